"""Placing artifacts on hosts: only where needed, verified on the host, skipped when there."""

from __future__ import annotations

import asyncio
import posixpath
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from kubexms.artifacts._errors import ArtifactError, DistributionError
from kubexms.artifacts._manifest import ManifestEntry
from kubexms.artifacts._plan import ArtifactPlan
from kubexms.artifacts._settings import DEFAULT_REMOTE_DIR
from kubexms.artifacts._store import ArtifactStore, sha256_of

if TYPE_CHECKING:
    from kubexms.runtime import ClusterRuntime, Host

log = structlog.stdlib.get_logger("kubexms.artifacts")


@dataclass(frozen=True, slots=True)
class Placement:
    """One artifact on one host: where it is and whether it was uploaded just now."""

    host: str
    component: str
    version: str
    arch: str
    remote_path: str
    sha256: str
    uploaded: bool


def remote_path_of(entry: ManifestEntry, remote_dir: str = DEFAULT_REMOTE_DIR) -> str:
    """``<remote_dir>/<component>/<version>/<file>``: a host has one architecture."""
    return posixpath.join(remote_dir, entry.component, entry.version, entry.file)


class DistributionFailedError(ArtifactError):
    """Distribution failed on several hosts; ``errors`` has one error per host."""

    def __init__(self, errors: list[DistributionError]) -> None:
        lines = "\n".join(f"  - {error}" for error in errors)
        super().__init__(f"artifacts could not be placed on {len(errors)} hosts:\n{lines}")
        self.errors = errors


async def _host_arch(host: Host) -> str:
    if host.arch:
        return host.arch
    return (await host.runner.facts()).arch


async def distribute(
    runtime: ClusterRuntime,
    plan: ArtifactPlan,
    store: ArtifactStore,
    *,
    remote_dir: str = DEFAULT_REMOTE_DIR,
    upload_concurrency: int = 8,
    hosts: list[str] | None = None,
) -> list[Placement]:
    """Put on each host the artifacts its roles and architecture need.

    A file whose sha256 on the host already matches is left alone; otherwise it is uploaded
    (atomically, through the host's Runner) and its sha256 checked on the host afterwards.
    At most ``upload_concurrency`` uploads run at once across all hosts. Hosts are worked on
    concurrently; failures are gathered and raised at the end, one DistributionError per
    host (several as DistributionFailedError).
    """
    manifest = store.manifest()
    verified: dict[tuple[str, str, str], asyncio.Task[None]] = {}
    uploads = asyncio.Semaphore(upload_concurrency)

    async def verify_local(entry: ManifestEntry) -> None:
        path = store.path_of(entry)
        exists = await asyncio.to_thread(path.is_file)
        if not exists or await asyncio.to_thread(sha256_of, path) != entry.sha256:
            raise ArtifactError(
                f"{path} is missing or differs from its recorded sha256 {entry.sha256}; "
                f"run `kubexms artifact download` again"
            )

    def local_check(entry: ManifestEntry) -> asyncio.Task[None]:
        # Each local file is hashed once however many hosts receive it.
        if entry.key not in verified:
            verified[entry.key] = asyncio.ensure_future(verify_local(entry))
        return verified[entry.key]

    async def place(host: Host, entry: ManifestEntry) -> Placement:
        remote = remote_path_of(entry, remote_dir)
        runner = host.runner
        if await runner.files.sha256(remote) == entry.sha256:
            return Placement(
                host.name, entry.component, entry.version, entry.arch, remote, entry.sha256, False
            )
        await asyncio.shield(local_check(entry))
        async with uploads:
            await runner.files.upload(store.path_of(entry), remote, mode=entry.mode)
        found = await runner.files.sha256(remote)
        if found != entry.sha256:
            raise DistributionError(
                host.name,
                f"{remote} has sha256 {found} after upload, expected {entry.sha256}",
            )
        log.info("artifacts.placed", host=host.name, path=remote)
        return Placement(
            host.name, entry.component, entry.version, entry.arch, remote, entry.sha256, True
        )

    async def one_host(host: Host) -> list[Placement]:
        try:
            arch = await _host_arch(host)
            missing = plan.missing_arch(host.name, arch)
            if missing:
                raise DistributionError(
                    host.name,
                    f"is {arch}, but the artifacts were planned without {arch} for "
                    f"{', '.join(missing)}; download again with --arch {arch}",
                )
            entries: list[ManifestEntry] = []
            for artifact in plan.for_host(host.name, arch):
                entry = manifest.entry(artifact.key)
                if entry is None or entry.file != artifact.file:
                    raise DistributionError(
                        host.name,
                        f"{artifact.describe()} is not in the store {store.root}; run "
                        f"`kubexms artifact download` first",
                    )
                entries.append(entry)
            return list(await asyncio.gather(*(place(host, entry) for entry in entries)))
        except DistributionError:
            raise
        except Exception as error:
            raise DistributionError(host.name, str(error)) from error

    targets = [runtime.host(name) for name in hosts] if hosts is not None else list(runtime.hosts)
    outcomes = await asyncio.gather(*(one_host(host) for host in targets), return_exceptions=True)
    errors = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    unexpected = [error for error in errors if not isinstance(error, DistributionError)]
    if unexpected:
        raise unexpected[0]
    failures = [error for error in errors if isinstance(error, DistributionError)]
    if len(failures) == 1:
        raise failures[0]
    if failures:
        raise DistributionFailedError(failures)
    return [placement for outcome in outcomes if isinstance(outcome, list) for placement in outcome]
