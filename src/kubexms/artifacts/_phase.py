"""FetchArtifacts: the first half of the ``artifacts`` phase, on the control machine.

The phase may be limited to some components (``create cluster --only etcd`` needs only etcd's
tarball), so it works where the other components' binaries cannot be had.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from dataclasses import dataclass

from kubexms.artifacts._download import prepare_artifacts
from kubexms.artifacts._plan import ArtifactPlan, plan_artifacts
from kubexms.artifacts._settings import artifact_settings
from kubexms.artifacts._store import ArtifactStore
from kubexms.config import Cluster
from kubexms.engine import Step
from kubexms.runner import Change
from kubexms.runtime import ClusterRuntime, Context


async def _arches(runtime: ClusterRuntime) -> dict[str, tuple[str, ...]]:
    """Each connected host's architecture: ``arch:`` from the file, else its (cached) facts."""

    async def one(host_arch: str | None, name: str) -> tuple[str, tuple[str, ...]]:
        if host_arch:
            return name, (host_arch,)
        return name, ((await runtime.host(name).runner.facts()).arch,)

    found = await asyncio.gather(*(one(host.arch, host.name) for host in runtime.hosts))
    arches = dict(found)
    # Hosts that could not be reached (--continue-on-error) need nothing from this run.
    fallback = next(iter(arches.values()), ("amd64",))
    for host in runtime.config.resolved_hosts():
        arches.setdefault(host.name, fallback)
    return arches


@dataclass(frozen=True)
class FetchArtifacts(Step):
    """The artifacts of ``components`` in the store on this machine, each verified against
    its pinned sha256: downloaded, or imported from ``spec.artifacts.offlineBundle``."""

    components: tuple[str, ...]
    name: str = "fetch"

    description = "{components} in the artifact store, verified"
    timeout = 3600.0

    async def _plan(self, ctx: Context) -> ArtifactPlan:
        config = ctx.cluster.config
        plan = plan_artifacts(config, await _arches(ctx.cluster))
        return plan.select(self.components)

    async def precheck(self, ctx: Context) -> Change:
        plan = await self._plan(ctx)
        store = ArtifactStore.for_cluster(ctx.cluster.config)
        manifest = store.manifest()

        def missing() -> list[str]:
            found = []
            for artifact in plan.artifacts:
                entry = manifest.entry(artifact.key)
                ok = (
                    entry is not None
                    and entry.file == artifact.file
                    and artifact.sha256 in (None, entry.sha256)
                    and store.is_valid(entry)
                )
                if not ok:
                    found.append(artifact.describe())
            return found

        absent = await asyncio.to_thread(missing)
        return Change(bool(absent), "fetch artifacts", f"would fetch {', '.join(absent)}")

    async def run(self, ctx: Context) -> Change:
        config = ctx.cluster.config
        plan = await self._plan(ctx)
        store = ArtifactStore.for_cluster(config)
        results = await prepare_artifacts(plan, store, artifact_settings(config))
        fetched = [result.artifact.describe() for result in results if result.fetched]
        return Change(bool(fetched), "fetch artifacts", f"fetched {', '.join(fetched)}")


def component_versions(cluster: Cluster, components: Collection[str]) -> dict[str, str]:
    """The version of each component this cluster uses (the architecture does not matter)."""
    any_arch = {host.name: ("amd64",) for host in cluster.resolved_hosts()}
    plan = plan_artifacts(cluster, any_arch).select(components)
    return {artifact.component: artifact.version for artifact in plan.artifacts}
