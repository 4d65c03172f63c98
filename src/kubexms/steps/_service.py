"""SystemdService and RestartService: a systemd unit with its files, running and healthy.

A service is restarted only when one of its own files changed. That fact must survive an
interrupted run (files written, then the connection lost before the restart): so before any
file is replaced a marker ``/var/lib/kubexms/restart-pending/<unit>`` is written in the same
round trip, and it is removed only once the service was (re)started and found healthy. A
rerun sees the marker and restarts, although the files are by then as wanted.

A file declared with ``reload=True`` (a proxy's backends) reloads the service instead, under
its own marker in ``/var/lib/kubexms/reload-pending``: established connections survive. A
file declared with ``validate`` (``haproxy -c -f {path}``) is first written beside its target
and checked by that command; only a file that passes replaces the target, so a bad
configuration leaves the running one (and the file it was started from) untouched.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from kubexms.engine import Step
from kubexms.runner import Change, FileSpec
from kubexms.runtime import Context
from kubexms.steps._probe import describe_paths
from kubexms.steps._rendered import RenderContext, RenderedFile
from kubexms.steps._service_files import (
    ServiceFile,
    place_candidates,
    validate_candidates,
)
from kubexms.steps._unit_state import (
    DROP_IN,
    UNIT_DIRECTORY,
    Health,
    UnitState,
    full_unit_name,
    pending_path,
    probe_unit,
    reload_pending_path,
    start_or_restart,
)


@dataclass(frozen=True)
class SystemdService(Step):
    """A systemd unit (``unit_file`` in /etc/systemd/system, plus ``drop_ins`` by name) and the
    service's ``files``, enabled, running and healthy.

    Only what differs is written (atomically, one round trip); ``daemon-reload`` runs only when
    the unit or a drop-in changed. The service is started if it is not running, and restarted
    only when one of its own files changed. With ``defer_restart`` that restart is left to a
    :class:`RestartService` step (e.g. one host at a time for a quorum of etcd members); a
    stopped service is still started, so a first creation starts every member at once.
    With ``start`` False a stopped service is left stopped (the kubelet under kubeadm: kubeadm
    starts it once its files exist); a running one is still restarted when its files changed.
    Then it waits until the unit is active and ``health`` passes; on failure the error shows
    the unit's last ``journal_lines`` journal lines.

    The precheck reads all of it in one round trip: files (sha256, mode, owner), enabled,
    active, a restart still pending from an interrupted run, and one health probe.
    """

    unit: str
    unit_file: str
    files: tuple[ServiceFile, ...] = ()
    drop_ins: Mapping[str, str] = field(default_factory=dict)
    enable: bool = True
    start: bool = True
    health: Health | None = None
    defer_restart: bool = False
    journal_lines: int = 30
    name: str = ""

    description = "service {unit}: files, enabled, running, healthy"

    def __post_init__(self) -> None:
        object.__setattr__(self, "unit", full_unit_name(self.unit))
        if not self.name:
            object.__setattr__(self, "name", f"service-{self.unit.removesuffix('.service')}")
        for drop_in in self.drop_ins:
            if not DROP_IN.fullmatch(drop_in):
                raise ValueError(f"drop-in name {drop_in!r} must look like NAME.conf")
        paths = [item.path for item in self.all_files()]
        if len(set(paths)) != len(paths):
            raise ValueError(f"{self.unit}: a file is named twice")

    def params(self) -> Mapping[str, object]:
        found = dict(super().params())
        if "files" in found:
            found["files"] = [_file_param(item) for item in self.files]
        return found

    def unit_files(self) -> list[ServiceFile]:
        """The unit file and its drop-ins (a change to one of them needs a daemon-reload)."""
        base = posixpath.join(UNIT_DIRECTORY, self.unit)
        found = [ServiceFile(base, self.unit_file)]
        found += [ServiceFile(f"{base}.d/{name}", text) for name, text in self.drop_ins.items()]
        return found

    def all_files(self) -> list[ServiceFile]:
        return [*self.unit_files(), *self.files]

    def rendered_files(self, ctx: RenderContext) -> list[RenderedFile]:
        """The unit, its drop-ins and its files; a secret file as a marker."""
        return [
            RenderedFile(
                item.path,
                None if item.secret else item.data,
                item.mode,
                f"{self.unit}, sha256 {hashlib.sha256(item.data).hexdigest()}"
                if item.secret
                else "",
            )
            for item in self.all_files()
        ]

    async def precheck(self, ctx: Context) -> Change:
        state = await probe_unit(ctx, self.unit, self.all_files(), self.health)
        pending: list[str] = []
        if state.stale:
            pending.append(await _would_write(ctx, state.stale))
        if self.enable and not state.enabled:
            pending.append("enable")
        restarts = any(not f.reload for f in state.stale)
        if not state.active and not self.start:
            # Left stopped: whoever starts it reads the files as they are then.
            if state.pending or state.reload_pending:
                pending.append("forget a restart it no longer needs")
        elif not state.active:
            pending.append("start")
        elif (restarts or state.pending) and not self.defer_restart:
            pending.append("restart")
        elif state.stale or state.reload_pending:
            pending.append("reload")
        elif not state.healthy:
            pending.append(f"wait for {self.health.describe() if self.health else 'it'}")
        return Change(bool(pending), self._action(), "; ".join(pending))

    async def run(self, ctx: Context) -> Change:
        files = self.all_files()
        state = await probe_unit(ctx, self.unit, files, self.health)
        done: list[str] = []
        if state.stale:
            checked = [f for f in state.stale if f.validate is not None]
            await validate_candidates(ctx, checked)
            restarts = any(not f.reload for f in state.stale)
            mark = pending_path if restarts else reload_pending_path
            specs = [FileSpec(mark(self.unit), f"{self.unit}\n".encode(), 0o644)]
            specs += [
                FileSpec(f.path, f.data, f.mode, f.owner) for f in state.stale if f.validate is None
            ]
            await ctx.runner.files.write_many(specs)
            await place_candidates(ctx, checked)
            done.append(f"wrote {describe_paths([f.wanted() for f in state.stale])}")
            units = {item.path for item in self.unit_files()}
            if any(item.path in units for item in state.stale):
                await ctx.runner.services.daemon_reload()
                done.append("daemon reloaded")
            state = UnitState(
                (),
                state.enabled,
                state.active,
                state.pending or restarts,
                state.healthy,
                state.reload_pending or not restarts,
            )
        if self.enable and not state.enabled:
            await ctx.runner.services.enable(self.unit)
            done.append("enabled")
        if not self.start and not state.active:
            # Nothing to restart: it reads these files when it is started.
            if state.pending:
                await ctx.runner.files.remove(pending_path(self.unit))
            if state.reload_pending:
                await ctx.runner.files.remove(reload_pending_path(self.unit))
            return Change(bool(done), self._action(), "; ".join(done))
        if self.defer_restart and state.active:
            # The restart (if one is pending) belongs to a RestartService step.
            state = UnitState((), state.enabled, True, False, state.healthy, state.reload_pending)
        done += await start_or_restart(ctx, self.unit, state, self.health, self.journal_lines)
        return Change(bool(done), self._action(), "; ".join(done))

    def _action(self) -> str:
        return f"service {self.unit}"


@dataclass(frozen=True)
class RestartService(Step):
    """Restart ``unit`` if a :class:`SystemdService` with ``defer_restart`` left a restart
    pending (start it if it is not running), then wait until it is healthy.

    Put one per host in tasks that run one after another to roll a change through a group
    (see :func:`rolling`): each host is healthy again before the next one restarts.
    """

    unit: str
    health: Health | None = None
    journal_lines: int = 30
    name: str = ""

    description = "restart {unit} if its files changed, wait until healthy"

    def __post_init__(self) -> None:
        object.__setattr__(self, "unit", full_unit_name(self.unit))
        if not self.name:
            object.__setattr__(self, "name", f"restart-{self.unit.removesuffix('.service')}")

    async def precheck(self, ctx: Context) -> Change:
        state = await probe_unit(ctx, self.unit, (), self.health)
        detail = (
            "start"
            if not state.active
            else "restart"
            if state.pending
            else ""
            if state.healthy
            else "wait until healthy"
        )
        return Change(bool(detail), f"restart {self.unit}", detail)

    async def run(self, ctx: Context) -> Change:
        state = await probe_unit(ctx, self.unit, (), self.health)
        done = await start_or_restart(ctx, self.unit, state, self.health, self.journal_lines)
        return Change(bool(done), f"restart {self.unit}", "; ".join(done))


def _file_param(item: ServiceFile) -> dict[str, object]:
    shown: dict[str, object] = {"path": item.path, "mode": item.mode, "owner": item.owner}
    if item.reload:
        shown["reload"] = True
    if item.validate is not None:
        shown["validate"] = item.validate
    digest = hashlib.sha256(item.data).hexdigest()
    if item.secret:
        shown["sha256"] = digest
    else:
        shown["content"] = item.content
    return shown


async def _would_write(ctx: Context, stale: Sequence[ServiceFile]) -> str:
    """``write a (+2 -1 lines), b (new file)``: the Runner's own check of the writes (a
    second round trip, made only when something is to be written; a diff's line counts
    reveal no content)."""
    specs = [FileSpec(f.path, f.data, f.mode, f.owner) for f in stale]
    changes = await ctx.runner.files.write_many(specs, check=True)
    shown = [
        f"{spec.path} ({change.detail})" if change.detail else spec.path
        for spec, change in zip(specs, changes, strict=True)
    ]
    more = f" and {len(shown) - 5} more" if len(shown) > 5 else ""
    return f"write {', '.join(shown[:5])}{more}"
