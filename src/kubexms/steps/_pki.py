"""PlacePKIFiles: certificates, keys and kubeconfigs from the cluster PKI, on a host."""

from __future__ import annotations

import asyncio
import posixpath
from dataclasses import dataclass
from pathlib import Path

from kubexms.engine import Step
from kubexms.pki import default_pki_directory
from kubexms.runner import Change, FileSpec, RunnerError
from kubexms.runtime import Context
from kubexms.steps._probe import WantedFile, check_absolute, describe_paths, differing
from kubexms.steps._rendered import RenderContext, RenderedFile
from kubexms.steps._unit_state import restart_marker

CERT_MODE = 0o644
SECRET_MODE = 0o600
HOST_PLACEHOLDER = "{host}"


class PKIFileError(RunnerError):
    """A PKI file the step should place is not in the cluster's PKI directory."""


class PKIFileMissingError(PKIFileError):
    """The PKI file does not exist (yet)."""


def default_mode(source: str) -> int:
    """0600 for private keys and kubeconfigs (they embed a client key), 0644 otherwise."""
    if source.endswith((".key", ".conf", ".kubeconfig")) or source.startswith("kubeconfig/"):
        return SECRET_MODE
    return CERT_MODE


@dataclass(frozen=True)
class PKIFile:
    """One file of the cluster PKI (``source``, relative to the PKI directory, as
    ``kubexms.pki`` lays it out) and where it goes on the host (``dest``).

    ``{host}`` in ``source`` stands for the host's name (``etcd/server-{host}.crt`` becomes
    kubeadm's ``/etc/kubernetes/pki/etcd/server.crt`` on each etcd host). ``mode`` None: 0600
    for ``.key`` files and kubeconfigs, 0644 for certificates. ``readers``: the systemd units
    that read the file only when they start; when it changes (a renewal), each one's restart is
    recorded before the file is replaced, and its :class:`SystemdService` step restarts it.
    """

    source: str
    dest: str
    mode: int | None = None
    readers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        parts = self.source.split("/")
        if self.source.startswith("/") or not self.source or ".." in parts:
            raise ValueError(f"PKI source {self.source!r} must be relative to the PKI directory")
        object.__setattr__(self, "dest", check_absolute(self.dest, "dest"))

    @property
    def wanted_mode(self) -> int:
        return self.mode if self.mode is not None else default_mode(self.source)

    def source_for(self, host: str) -> str:
        return self.source.replace(HOST_PLACEHOLDER, host)


@dataclass(frozen=True)
class PlacePKIFiles(Step):
    """Files of the cluster PKI on the host: atomically, with their modes and ``owner``.

    Contents are read on the control machine from ``pki_dir`` (None: ``<workDir>/pki``) when
    the step runs; they are never step parameters, so plans, logs and checkpoints hold only
    paths. The precheck compares sha256, mode and owner on the host (one round trip); the run
    writes only the files that differ, each through a temporary file and a rename, all in one
    round trip, the contents travelling on stdin.
    """

    files: tuple[PKIFile, ...]
    owner: str | None = None
    pki_dir: str | None = None
    name: str = "pki-files"

    description = "PKI files on the host"

    def __post_init__(self) -> None:
        if not self.files:
            raise ValueError("PlacePKIFiles needs at least one file")
        dests = [item.dest for item in self.files]
        if len(set(dests)) != len(dests):
            raise ValueError("PlacePKIFiles names a destination twice")

    async def precheck(self, ctx: Context) -> Change:
        try:
            wanted = [spec for spec, _ in await self._load(ctx)]
        except PKIFileMissingError:
            # A dry run before the PKI was ever made: the real run's pki phase makes it first.
            return Change(
                True, self._action(), "not in the cluster PKI yet (the pki phase makes it)"
            )
        missing = await differing(ctx.runner, wanted)
        detail = f"would write {describe_paths(missing)}" if missing else ""
        readers = self._readers({spec.path for spec in missing})
        if readers:
            detail += f"; would restart {', '.join(readers)}"
        return Change(bool(missing), self._action(), detail)

    async def run(self, ctx: Context) -> Change:
        loaded = await self._load(ctx)
        stale = {spec.path for spec in await differing(ctx.runner, [w for w, _ in loaded])}
        specs = [
            FileSpec(wanted.path, content, wanted.mode, self.owner)
            for wanted, content in loaded
            if wanted.path in stale
        ]
        readers = self._readers(stale)
        # The restart markers first, in the same round trip: an interrupted run still restarts.
        markers = [restart_marker(unit) for unit in readers]
        changes = await ctx.runner.files.write_many([*markers, *specs])
        written = [
            change.action.removeprefix("write ") for change in changes[len(markers) :]
            if change.changed
        ]  # fmt: skip
        detail = f"wrote {', '.join(written)}" if written else ""
        if written and readers:
            detail += f"; {', '.join(readers)} to restart"
        return Change(bool(written), self._action(), detail)

    def _readers(self, paths: set[str]) -> list[str]:
        """The units that read any of ``paths`` (sorted, once each)."""
        return sorted({unit for item in self.files if item.dest in paths for unit in item.readers})

    def _action(self) -> str:
        return f"place {len(self.files)} PKI file(s)"

    def rendered_files(self, ctx: RenderContext) -> list[RenderedFile]:
        """Certificates as the cluster PKI holds them (a marker naming the PKI file when it
        is not made yet); keys and kubeconfigs always as a marker."""
        directory = Path(self.pki_dir) if self.pki_dir is not None else ctx.pki_dir
        rendered = []
        for item in self.files:
            source = item.source_for(ctx.host.name)
            path = directory.joinpath(*source.split("/"))
            secret = item.wanted_mode == SECRET_MODE
            content = None if secret or not path.is_file() else path.read_bytes()
            note = f"cluster PKI {source}" + ("" if secret else ", not generated yet")
            rendered.append(RenderedFile(item.dest, content, item.wanted_mode, note))
        return rendered

    def _directory(self, ctx: Context) -> Path:
        if self.pki_dir is not None:
            return Path(self.pki_dir)
        return default_pki_directory(ctx.cluster.config)

    async def _load(self, ctx: Context) -> list[tuple[WantedFile, bytes]]:
        directory = self._directory(ctx)
        host = ctx.host.name

        def read() -> list[tuple[WantedFile, bytes]]:
            loaded = []
            for item in self.files:
                source = directory.joinpath(*item.source_for(host).split("/"))
                try:
                    content = source.read_bytes()
                except FileNotFoundError:
                    raise PKIFileMissingError(
                        host,
                        f"{source} is not in the cluster PKI; run `kubexms certs generate` "
                        "(or the pki phase) first",
                    ) from None
                except OSError as error:
                    raise PKIFileError(host, f"cannot read {source}: {error}") from None
                wanted = WantedFile.of(item.dest, content, item.wanted_mode, self.owner)
                loaded.append((wanted, content))
            return loaded

        return await asyncio.to_thread(read)


def kubeadm_layout(
    names: tuple[str, ...], directory: str = "/etc/kubernetes/pki"
) -> tuple[PKIFile, ...]:
    """``name.crt`` and ``name.key`` of each PKI name, placed under ``directory`` as kubeadm
    lays them out (``etcd/ca`` goes to ``<directory>/etcd/ca.crt`` and ``.key``)."""
    files = []
    for name in names:
        for suffix in (".crt", ".key"):
            files.append(PKIFile(f"{name}{suffix}", posixpath.join(directory, f"{name}{suffix}")))
    return tuple(files)
