"""The architectures of a cluster's hosts: from the cluster file, from facts, or as told."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

from kubexms.artifacts._bom import ARCHES
from kubexms.artifacts._errors import ArtifactError
from kubexms.connector import ConnectorError
from kubexms.runtime import InitializationError, new_runtime

if TYPE_CHECKING:
    from kubexms.config import Cluster


def check_arches(arches: Sequence[str]) -> list[str]:
    """``arches`` validated against the architectures the BOM knows."""
    unknown = sorted(set(arches) - set(ARCHES))
    if unknown:
        raise ArtifactError(
            f"unknown architecture(s) {', '.join(unknown)}; known: {', '.join(ARCHES)}"
        )
    return sorted(set(arches))


async def host_architectures(
    cluster: Cluster, *, assume: Sequence[str] = (), detect: bool = True
) -> dict[str, tuple[str, ...]]:
    """Each host's architecture(s).

    A host's ``arch:`` in the cluster file wins. For the other hosts: the ``assume`` list when
    given (every listed architecture is then planned for them), otherwise their facts,
    gathered over a runtime when ``detect`` is true. Raises ArtifactError naming the hosts
    whose architecture stays unknown, and what to do.
    """
    assumed = tuple(check_arches(assume))
    result: dict[str, tuple[str, ...]] = {}
    unknown: list[str] = []
    for host in cluster.resolved_hosts():
        if host.arch is not None:
            result[host.name] = (host.arch,)
        elif assumed:
            result[host.name] = assumed
        else:
            unknown.append(host.name)
    if not unknown:
        return result
    advice = "set `arch:` for them in the cluster file or pass --arch amd64 (or arm64)"
    if not detect:
        raise ArtifactError(f"the architecture of {', '.join(unknown)} is unknown; {advice}")
    try:
        # Only the hosts whose architecture is unknown are reached, each for its facts.
        runtime = await new_runtime(cluster, only=unknown)
    except InitializationError as error:
        failed = ", ".join(error.failed_hosts)
        raise ArtifactError(
            f"cannot detect the architecture of {', '.join(unknown)}: {failed} could not be "
            f"reached ({error.errors[0]}); {advice}"
        ) from None
    async with runtime:
        found = await asyncio.gather(
            *(runtime.host(name).runner.facts() for name in unknown), return_exceptions=True
        )
    for name, facts in zip(unknown, found, strict=True):
        if isinstance(facts, ConnectorError):
            raise ArtifactError(
                f"cannot detect the architecture of {name}: {facts}; {advice}"
            ) from None
        if isinstance(facts, BaseException):
            raise facts
        if facts.arch not in ARCHES:
            raise ArtifactError(
                f"{name} is {facts.machine} ({facts.arch}); kubexms has artifacts for "
                f"{', '.join(ARCHES)} only"
            )
        result[name] = (facts.arch,)
    return result
