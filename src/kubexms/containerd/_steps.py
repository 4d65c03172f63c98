"""The steps of the container-runtime phase that the building blocks do not cover."""

from __future__ import annotations

import asyncio
import posixpath
from dataclasses import dataclass
from pathlib import Path
from shlex import quote

from kubexms.artifacts import (
    DEFAULT_REMOTE_DIR,
    ArtifactStore,
    ImageStore,
    StoredImage,
)
from kubexms.containerd._config import HEADER_LINE
from kubexms.containerd._layout import CTR, IMAGE_NAMESPACE
from kubexms.engine import OperationStep, Step
from kubexms.runner import Change, FileSpec, RunnerError
from kubexms.runtime import Context
from kubexms.steps import RenderContext, RenderedFile
from kubexms.steps._probe import WantedFile, describe_paths, differing

# What marks a containerd that kubexms did not install: a distribution's package (Debian,
# Ubuntu: containerd, containerd.io from Docker's repository, docker.io which depends on one;
# RPM distributions: containerd.io), or its binary or unit in the package manager's places.
_FOREIGN_PROBE = r"""
found=""
if command -v dpkg-query >/dev/null 2>&1; then
  for p in containerd containerd.io docker.io moby-containerd; do
    s=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) || continue
    case "$s" in *" installed") found="$found package $p (dpkg);" ;; esac
  done
fi
if command -v rpm >/dev/null 2>&1; then
  for p in containerd.io containerd moby-containerd; do
    rpm -q "$p" >/dev/null 2>&1 && found="$found package $p (rpm);"
  done
fi
for f in /usr/bin/containerd /lib/systemd/system/containerd.service \
         /usr/lib/systemd/system/containerd.service; do
  [ -e "$f" ] && found="$found $f;"
done
printf '%s' "$found"
"""


class ForeignContainerdError(RunnerError):
    """The host already has a containerd that kubexms did not install."""


@dataclass(frozen=True)
class NoForeignContainerd(Step):
    """Refuse a host that already has another containerd (a distribution package).

    kubexms does not remove it: it may serve Docker or other users of the host, and two
    containerd installations (``/usr/bin`` and ``/usr/local/bin``, two units) would fight
    over one socket and one data directory. The error says what was found and what to do.
    """

    name: str = "no-foreign-containerd"

    description = "no containerd installed by another tool"

    async def _found(self, ctx: Context) -> str:
        result = await ctx.runner.script("exec sh -s", stdin=_FOREIGN_PROBE)
        return result.stdout.strip().rstrip(";")

    async def precheck(self, ctx: Context) -> Change:
        found = await self._found(ctx)
        if found:
            raise ForeignContainerdError(ctx.host.name, _refusal(found))
        return Change(False, "no foreign containerd")

    async def run(self, ctx: Context) -> Change:
        return await self.precheck(ctx)


def _refusal(found: str) -> str:
    return (
        f"already has a containerd that kubexms did not install ({found.strip()}); kubexms "
        "will not mix two of them on one host. Remove it (e.g. `apt-get purge containerd "
        "containerd.io docker.io`, `dnf remove containerd.io`) or leave this host out"
    )


@dataclass(frozen=True)
class ManagedFile(Step):
    """A small file (``content``, ``mode``) written atomically when it differs."""

    path: str
    content: str
    mode: int = 0o644
    name: str = ""

    description = "{path} as kubexms writes it"

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", posixpath.basename(self.path))

    def _wanted(self) -> WantedFile:
        return WantedFile.of(self.path, self.content.encode(), self.mode)

    def rendered_files(self, ctx: RenderContext) -> list[RenderedFile]:
        return [RenderedFile(self.path, self.content.encode(), self.mode)]

    async def precheck(self, ctx: Context) -> Change:
        stale = await differing(ctx.runner, [self._wanted()])
        return Change(bool(stale), f"write {self.path}", describe_paths(stale))

    async def run(self, ctx: Context) -> Change:
        stale = await differing(ctx.runner, [self._wanted()])
        if stale:
            await ctx.runner.files.write_many(
                [FileSpec(self.path, self.content.encode(), self.mode)]
            )
        return Change(bool(stale), f"write {self.path}", describe_paths(stale))


class ImageImportError(RunnerError):
    """An image could not be imported into containerd, or is not the image recorded."""


async def _present(ctx: Context) -> dict[str, str]:
    """Image name -> target digest in containerd's k8s.io namespace."""
    result = await ctx.runner.run(
        f"{CTR} -n {IMAGE_NAMESPACE} images ls 2>/dev/null || true", sudo=ctx.runner.sudo
    )
    found: dict[str, str] = {}
    for line in result.stdout.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 3 and fields[2].startswith("sha256:"):
            found[fields[0]] = fields[2]
    return found


@dataclass(frozen=True)
class ImportImages(Step):
    """The images of the host's roles from the store's OCI archives, in containerd's k8s.io
    namespace with the digest recorded at pull; an image already there is skipped.

    Used when there is no private registry to pull from.
    """

    store: str | None = None
    remote_dir: str = DEFAULT_REMOTE_DIR
    name: str = "images"

    description = "images of the host's roles imported into containerd"
    uploads = True
    timeout = 1800.0

    def _images(self, ctx: Context) -> tuple[ImageStore, list[StoredImage]]:
        base = (
            ArtifactStore(Path(self.store))
            if self.store is not None
            else ArtifactStore.for_cluster(ctx.cluster.config)
        )
        images = ImageStore(base)
        return images, images.for_roles(ctx.host.roles)

    async def _missing(self, ctx: Context) -> tuple[ImageStore, list[StoredImage]]:
        images, wanted = self._images(ctx)
        if not wanted:
            return images, []
        present = await _present(ctx)
        return images, [entry for entry in wanted if present.get(entry.ref) != entry.digest]

    async def precheck(self, ctx: Context) -> Change:
        _, missing = await self._missing(ctx)
        return Change(
            bool(missing),
            "import images",
            f"would import {', '.join(e.ref for e in missing)}" if missing else "",
        )

    async def run(self, ctx: Context) -> Change:
        images, missing = await self._missing(ctx)
        for entry in missing:
            local = images.path_of(entry)
            if not await asyncio.to_thread(images.is_valid, entry):
                raise ImageImportError(
                    ctx.host.name,
                    f"image {entry.ref}: {local} is missing or differs from what was pulled "
                    f"(manifest {entry.digest}); run `kubexms artifact images pull` again",
                )
            remote = posixpath.join(self.remote_dir, "images", entry.file)
            await ctx.runner.files.upload(local, remote, mode=0o600)
            result = await ctx.runner.run(
                f"{CTR} -n {IMAGE_NAMESPACE} images import {quote(remote)} 2>&1",
                sudo=ctx.runner.sudo,
            )
            if result.exit_code != 0:
                raise ImageImportError(
                    ctx.host.name,
                    f"`ctr images import` of {entry.ref} failed (exit {result.exit_code}): "
                    f"{result.stdout.strip()[-500:]}",
                )
            await ctx.runner.files.remove(remote)
        if missing:
            present = await _present(ctx)
            wrong = [e for e in missing if present.get(e.ref) != e.digest]
            if wrong:
                seen = ", ".join(f"{e.ref} is {present.get(e.ref, 'absent')}" for e in wrong)
                raise ImageImportError(
                    ctx.host.name,
                    f"imported images differ from the digests recorded at pull: {seen} "
                    f"(expected {', '.join(e.digest for e in wrong)})",
                )
        detail = f"imported {', '.join(e.ref for e in missing)}" if missing else ""
        return Change(bool(missing), "import images", detail)


@dataclass(frozen=True)
class StaleRegistryHosts(OperationStep):
    """Remove the ``certs.d/<host>/`` directories kubexms wrote for registries the cluster
    file no longer names (their ``hosts.toml`` starts with kubexms' header); directories
    written by anyone else are left alone. containerd reads hosts.toml at every pull: no
    restart is needed."""

    certs_dir: str
    wanted: tuple[str, ...]
    name: str = "stale-registry-hosts"

    description = "no hosts.toml of registries the cluster no longer names"

    async def _stale(self, ctx: Context) -> list[str]:
        result = await ctx.runner.run(
            f"grep -l -F -x -- {quote(HEADER_LINE)} "
            f"{quote(self.certs_dir)}/*/hosts.toml 2>/dev/null || true",
            sudo=ctx.runner.sudo,
        )
        found = [posixpath.dirname(line) for line in result.stdout.split("\n") if line]
        keep = {posixpath.join(self.certs_dir, host) for host in self.wanted}
        return sorted(directory for directory in found if directory not in keep)

    async def apply(self, ctx: Context, *, check: bool) -> Change:
        stale = await self._stale(ctx)
        if stale and not check:
            for directory in stale:
                await ctx.runner.files.remove(directory)
        verb = "would remove" if check else "removed"
        return Change(bool(stale), "registry hosts", f"{verb} {', '.join(stale)}" if stale else "")
