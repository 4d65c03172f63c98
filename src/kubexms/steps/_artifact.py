"""PlaceArtifact: a file from the control machine's artifact store, in place on a host."""

from __future__ import annotations

import asyncio
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kubexms.artifacts import (
    DEFAULT_REMOTE_DIR,
    NOARCH,
    ArtifactStore,
    DistributionError,
    ManifestEntry,
    remote_path_of,
    sha256_of,
)
from kubexms.engine import Step
from kubexms.runner import Change
from kubexms.runtime import Context
from kubexms.steps._archive_digests import ArchiveContentError, archive_files
from kubexms.steps._probe import WantedFile, check_absolute, describe_paths, differing


class NotInStoreError(DistributionError):
    """The store on the control machine has no such artifact (yet)."""


@dataclass(frozen=True, slots=True)
class _Resolved:
    entry: ManifestEntry
    local: Path
    cache: str  # where the store file itself lives on the host
    wanted: tuple[WantedFile, ...]  # what the host must hold when the step is done


@dataclass(frozen=True)
class PlaceArtifact(Step):
    """An artifact from the store on the host, verified by sha256 there.

    The artifact is ``component`` at ``version`` (None: the only version the store holds for
    it) for the host's architecture (or ``noarch``). Without ``extract`` the file itself goes
    to ``dest`` (None: the host's artifact cache, ``<remote_dir>/<component>/<version>/<file>``)
    with ``mode`` (None: 0755 for executables, else 0644). With ``extract`` it is an archive:
    it is kept in the host's cache and ``members`` of it (None: all) are extracted into the
    directory ``dest``, ``strip_components`` leading directories removed. A member may say
    ``{version}`` and ``{arch}`` (``etcd-{version}-linux-{arch}/etcd``): they become the
    artifact's, since a host's architecture is known only when the step runs.

    The precheck compares the sha256, mode and owner of every file the step would write with
    what is on the host (the archive's members are read on the control machine), so an
    artifact already in place costs one round trip and nothing is transferred. Once placed
    (or found in place by a run), each file's digest is recorded on the host with its identity
    (``kubexms.steps._probe``): a precheck hashes it again only when its size, times, inode or
    mode differ from the record, so a rerun does not re-read hundreds of MB per host.
    ``verify=True`` hashes every file regardless of the records.
    ``store`` (None: ``<workDir>/artifacts``) is the store on the control machine.
    """

    component: str
    dest: str | None = None
    version: str | None = None
    mode: int | None = None
    owner: str | None = None
    extract: bool = False
    members: tuple[str, ...] | None = None
    strip_components: int = 0
    store: str | None = None
    remote_dir: str = DEFAULT_REMOTE_DIR
    verify: bool = False
    name: str = ""

    description = "artifact {component} on the host"
    uploads = True

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", f"artifact-{self.component}")
        if self.dest is not None:
            object.__setattr__(self, "dest", check_absolute(self.dest, "dest"))
        if self.extract:
            if self.dest is None:
                raise ValueError("PlaceArtifact(extract=True) needs dest, the directory")
            if self.mode is not None:
                raise ValueError("mode applies to a single file; an archive keeps its modes")
        elif self.members is not None or self.strip_components:
            raise ValueError("members and strip_components apply only with extract=True")
        if self.strip_components < 0:
            raise ValueError("strip_components must not be negative")
        if self.members is not None and not self.members:
            raise ValueError("members is empty: pass None to extract everything")

    async def precheck(self, ctx: Context) -> Change:
        try:
            resolved = await self._resolve(ctx)
        except NotInStoreError:
            # A dry run before the artifacts phase ever ran: the real run fetches it first.
            action = f"place {self.component}"
            return Change(True, action, "not in the store yet (the artifacts phase fetches it)")
        missing = await differing(ctx.runner, resolved.wanted, verify=self.verify)
        return Change(bool(missing), self._action(resolved), _detail(missing, "would place"))

    async def run(self, ctx: Context) -> Change:
        resolved = await self._resolve(ctx)
        if not await asyncio.to_thread(_valid_locally, resolved):
            raise DistributionError(
                ctx.host.name,
                f"{resolved.local} is missing from the store or differs from its recorded "
                f"sha256 {resolved.entry.sha256}; run `kubexms artifact download` again",
            )
        missing = await differing(ctx.runner, resolved.wanted, remember=True, verify=self.verify)
        if not missing:
            return Change(False, self._action(resolved))
        runner = ctx.runner
        if self.extract:
            cached = WantedFile(resolved.cache, resolved.entry.sha256, resolved.entry.mode)
            if await differing(runner, [cached], remember=True, verify=self.verify):
                await runner.files.upload(resolved.local, resolved.cache, mode=cached.mode)
                await self._verify(ctx, [cached])
            await runner.archives.extract(
                resolved.cache,
                self._dest(resolved),
                members=_members_of(self.members, resolved.entry),
                strip_components=self.strip_components,
                owner=self.owner,
            )
        else:
            (target,) = resolved.wanted
            await runner.files.upload(
                resolved.local, target.path, mode=target.mode, owner=self.owner
            )
        await self._verify(ctx, resolved.wanted)
        return Change(True, self._action(resolved), _detail(missing, "placed"))

    def _dest(self, resolved: _Resolved) -> str:
        return self.dest if self.dest is not None else resolved.cache

    def _action(self, resolved: _Resolved) -> str:
        entry = resolved.entry
        verb = "extract" if self.extract else "place"
        return f"{verb} {entry.component} {entry.version} ({entry.arch}) to {self._dest(resolved)}"

    async def _verify(self, ctx: Context, wanted: Sequence[WantedFile]) -> None:
        wrong = await differing(ctx.runner, wanted, remember=True, verify=True)
        if wrong:
            raise DistributionError(
                ctx.host.name,
                f"{describe_paths(wrong)} differ(s) from the artifact after placing it "
                f"(sha256, mode or owner); expected sha256 {wrong[0].sha256} for {wrong[0].path}",
            )

    async def _resolve(self, ctx: Context) -> _Resolved:
        store = self._store(ctx)
        arch = ctx.host.arch or (await ctx.runner.facts()).arch
        entry = _entry(store, self.component, self.version, arch, ctx.host.name)
        local = store.path_of(entry)
        cache = remote_path_of(entry, self.remote_dir)
        if not self.extract:
            mode = self.mode if self.mode is not None else entry.mode
            dest = self.dest if self.dest is not None else cache
            wanted = (WantedFile(dest, entry.sha256, mode, self.owner),)
            return _Resolved(entry, local, cache, wanted)
        assert self.dest is not None
        try:
            files = await asyncio.to_thread(
                archive_files,
                local,
                entry.sha256,
                _members_of(self.members, entry),
                self.strip_components,
            )
        except (OSError, ArchiveContentError) as error:
            raise DistributionError(
                ctx.host.name, f"cannot read the archive {local}: {error}"
            ) from None
        base = self.dest
        return _Resolved(
            entry,
            local,
            cache,
            tuple(
                WantedFile(posixpath.join(base, item.path), item.sha256, item.mode, self.owner)
                for item in files
            ),
        )

    def _store(self, ctx: Context) -> ArtifactStore:
        if self.store is not None:
            return ArtifactStore(Path(self.store))
        return ArtifactStore.for_cluster(ctx.cluster.config)


def _members_of(members: tuple[str, ...] | None, entry: ManifestEntry) -> tuple[str, ...] | None:
    if members is None:
        return None
    return tuple(
        member.replace("{version}", entry.version).replace("{arch}", entry.arch)
        for member in members
    )


def _detail(files: Sequence[WantedFile], verb: str) -> str:
    return f"{verb} {describe_paths(files)}" if files else ""


def _valid_locally(resolved: _Resolved) -> bool:
    local = resolved.local
    return local.is_file() and sha256_of(local) == resolved.entry.sha256


def _entry(
    store: ArtifactStore, component: str, version: str | None, arch: str, host: str
) -> ManifestEntry:
    candidates = [
        entry
        for entry in store.manifest().artifacts
        if entry.component == component and (version is None or entry.version == version)
    ]
    versions = sorted({entry.version for entry in candidates})
    if version is None and len(versions) > 1:
        raise DistributionError(
            host,
            f"the store {store.root} holds {component} in versions {', '.join(versions)}; "
            "the step must name one",
        )
    for wanted in (arch, NOARCH):
        for entry in candidates:
            if entry.arch == wanted:
                return entry
    what = f"{component} {version}" if version else component
    if candidates:
        have = ", ".join(sorted({entry.arch for entry in candidates}))
        raise DistributionError(
            host,
            f"is {arch}, but the store {store.root} has {what} only for {have}; "
            f"download again with --arch {arch}",
        )
    raise NotInStoreError(
        host, f"{what} is not in the store {store.root}; run `kubexms artifact download` first"
    )
