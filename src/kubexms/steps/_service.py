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
import math
import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from shlex import quote

from kubexms.connector import CommandFailedError
from kubexms.engine import Step
from kubexms.runner import Change, FileSpec, RunnerError, ServiceNotActiveError
from kubexms.runtime import Context
from kubexms.steps._probe import (
    describe_paths,
    marker,
    probe_script,
    probe_values,
)
from kubexms.steps._rendered import RenderContext, RenderedFile
from kubexms.steps._service_files import (
    ServiceFile,
    place_candidates,
    validate_candidates,
)

UNIT_DIRECTORY = "/etc/systemd/system"
PENDING_DIRECTORY = "/var/lib/kubexms/restart-pending"
RELOAD_PENDING_DIRECTORY = "/var/lib/kubexms/reload-pending"
_UNIT = re.compile(r"[A-Za-z0-9:_.@-]+")
_DROP_IN = re.compile(r"[A-Za-z0-9_.@-]+\.conf")
_UNIT_TYPES = (".service", ".socket", ".timer", ".path", ".mount", ".target")

# Listening TCP sockets (state 0A) of the host's network namespace; local port in hex.
_LISTENING = r"""kx_listening() {
  awk -v p="$(printf '%04X' "$1")" '
    $4 == "0A" { n = split($2, a, ":"); if (a[n] == p) found = 1 }
    END { exit !found }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}"""


def full_unit_name(unit: str) -> str:
    """``unit`` with ``.service`` added when it names no unit type."""
    if not _UNIT.fullmatch(unit) or unit.startswith("-"):
        raise ValueError(f"{unit!r} is not a systemd unit name")
    return unit if unit.endswith(_UNIT_TYPES) else f"{unit}.service"


class ServiceUnhealthyError(RunnerError):
    """A service did not become active and healthy; carries its last journal lines."""

    def __init__(self, host: str, unit: str, problem: str, journal: str) -> None:
        message = f"service {unit} is not healthy: {problem}"
        lines = journal.strip()
        if lines:
            message += "\n  last journal lines:\n    " + "\n    ".join(lines.splitlines())
        super().__init__(host, message)
        self.unit = unit
        self.problem = problem
        self.journal = journal


@dataclass(frozen=True)
class Health:
    """How to tell the service works: a ``command`` that exits 0 (run on the host, as root,
    by ``sh -c``; it must only read) or a TCP ``port`` something listens on. Polled every
    ``interval`` seconds for at most ``timeout`` seconds."""

    command: str | None = None
    port: int | None = None
    timeout: float = 60.0
    interval: float = 1.0

    def __post_init__(self) -> None:
        if (self.command is None) == (self.port is None):
            raise ValueError("Health needs exactly one of command and port")
        if self.port is not None and not 1 <= self.port <= 65535:
            raise ValueError(f"TCP port {self.port} is outside 1..65535")
        if not (self.timeout > 0 and self.interval > 0) or math.isinf(self.timeout):
            raise ValueError("Health timeout and interval must be positive and finite")

    def test(self) -> str:
        """Shell text: exits 0 when healthy."""
        if self.command is not None:
            return f"sh -c {quote(self.command)} >/dev/null 2>&1"
        return f"kx_listening {self.port}"

    def describe(self) -> str:
        return f"`{self.command}`" if self.command is not None else f"TCP port {self.port}"


def _pending_path(unit: str) -> str:
    return posixpath.join(PENDING_DIRECTORY, unit)


def _reload_pending_path(unit: str) -> str:
    return posixpath.join(RELOAD_PENDING_DIRECTORY, unit)


@dataclass(frozen=True, slots=True)
class _State:
    stale: tuple[ServiceFile, ...]
    enabled: bool
    active: bool
    pending: bool
    healthy: bool
    reload_pending: bool = False


async def _probe(
    ctx: Context, unit: str, files: Sequence[ServiceFile], health: Health | None
) -> _State:
    u = quote(unit)
    extra = "\n".join(
        [
            _LISTENING,
            f"systemctl is-enabled --quiet -- {u} 2>/dev/null && {marker('enabled')}",
            f"systemctl is-active --quiet -- {u} 2>/dev/null && {marker('active')}",
            f"[ -e {quote(_pending_path(unit))} ] && {marker('pending')}",
            f"[ -e {quote(_reload_pending_path(unit))} ] && {marker('reload')}",
            f"{health.test()} && {marker('healthy')}" if health is not None else "",
            "true",
        ]
    )
    wanted = [item.wanted() for item in files]
    script = f"[ -d /run/systemd/system ] || {{ {marker('nosystemd')}; exit 0; }}\n"
    script += probe_script(wanted, extra)
    result = await ctx.runner.script("exec sh -s", stdin=script)
    out = result.stdout
    if probe_values(out, "nosystemd"):
        raise ServiceUnhealthyError(
            ctx.host.name, unit, "systemd is not the init system of this host", ""
        )
    stale = tuple(files[int(index)] for index in probe_values(out, "differs"))
    return _State(
        stale=stale,
        enabled=bool(probe_values(out, "enabled")),
        active=bool(probe_values(out, "active")),
        pending=bool(probe_values(out, "pending")),
        healthy=health is None or bool(probe_values(out, "healthy")),
        reload_pending=bool(probe_values(out, "reload")),
    )


async def _journal(ctx: Context, unit: str, lines: int) -> str:
    result = await ctx.runner.run(
        f"journalctl -u {quote(unit)} -n {lines} --no-pager 2>&1", sudo=ctx.runner.sudo
    )
    return result.stdout


async def wait_healthy(
    ctx: Context, unit: str, health: Health | None, *, journal_lines: int = 30
) -> None:
    """Wait until ``unit`` is active and, with ``health``, healthy; ServiceUnhealthyError
    with the unit's last journal lines otherwise."""
    timeout = health.timeout if health is not None else 60.0
    try:
        await ctx.runner.services.wait_until_active(
            unit, timeout=timeout, journal_lines=journal_lines
        )
    except ServiceNotActiveError as error:
        raise ServiceUnhealthyError(
            ctx.host.name,
            unit,
            f"it is {error.state or 'unknown'}, not active, after {timeout:g}s",
            error.journal,
        ) from None
    if health is None:
        return
    polls = max(1, math.ceil(health.timeout / health.interval))
    script = f"""{_LISTENING}
i=0
while :; do
  if {health.test()}; then {marker("healthy")}; exit 0; fi
  systemctl is-active --quiet -- {quote(unit)} || {{ {marker("down")}; exit 0; }}
  [ "$i" -ge {polls} ] && exit 0
  i=$((i + 1))
  sleep {health.interval:g}
done"""
    result = await ctx.runner.script("exec sh -s", stdin=script, timeout=health.timeout + 60)
    if probe_values(result.stdout, "healthy"):
        return
    if probe_values(result.stdout, "down"):
        problem = f"it stopped while waiting for {health.describe()}"
    else:
        problem = f"{health.describe()} did not succeed within {health.timeout:g}s"
    if health.command is not None:
        last = await ctx.runner.run(f"sh -c {quote(health.command)} 2>&1", sudo=ctx.runner.sudo)
        output = " ".join(last.stdout.split())[-300:]
        problem += f" (exit {last.exit_code}{': ' + output if output else ''})"
    raise ServiceUnhealthyError(
        ctx.host.name, unit, problem, await _journal(ctx, unit, journal_lines)
    )


async def _start_or_restart(
    ctx: Context, unit: str, state: _State, health: Health | None, journal_lines: int
) -> list[str]:
    done = []
    if not state.active:
        await _start(ctx, unit, "start", journal_lines)
        done.append("started")
    elif state.pending:
        await _start(ctx, unit, "restart", journal_lines)
        done.append("restarted")
    elif state.reload_pending:
        await _reload(ctx, unit, journal_lines)
        done.append("reloaded")
    await wait_healthy(ctx, unit, health, journal_lines=journal_lines)
    if state.pending:
        await ctx.runner.files.remove(_pending_path(unit))
    if state.reload_pending:
        await ctx.runner.files.remove(_reload_pending_path(unit))
    return done


async def _start(ctx: Context, unit: str, verb: str, journal_lines: int) -> None:
    """``systemctl start|restart``; a unit that fails at once (``Type=notify`` and ``oneshot``
    units fail in systemctl itself) is a ServiceUnhealthyError with its journal, not the bare
    command failure."""
    try:
        if verb == "start":
            await ctx.runner.services.start(unit)
        else:
            await ctx.runner.services.restart(unit)
    except CommandFailedError as error:
        last = (error.result.stderr or error.result.stdout).strip().splitlines()[-1:]
        raise ServiceUnhealthyError(
            ctx.host.name,
            unit,
            f"systemctl {verb} failed (exit {error.result.exit_code})"
            + (f": {last[0]}" if last else ""),
            await _journal(ctx, unit, journal_lines),
        ) from None


async def _reload(ctx: Context, unit: str, journal_lines: int) -> None:
    result = await ctx.runner.run(
        f"systemctl reload -- {quote(unit)} 2>&1", sudo=ctx.runner.sudo, timeout=120
    )
    if not result.ok:
        raise ServiceUnhealthyError(
            ctx.host.name,
            unit,
            f"systemctl reload failed (exit {result.exit_code}): {result.stdout.strip()[-300:]}",
            await _journal(ctx, unit, journal_lines),
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
            if not _DROP_IN.fullmatch(drop_in):
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
        state = await _probe(ctx, self.unit, self.all_files(), self.health)
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
        state = await _probe(ctx, self.unit, files, self.health)
        done: list[str] = []
        if state.stale:
            checked = [f for f in state.stale if f.validate is not None]
            await validate_candidates(ctx, checked)
            restarts = any(not f.reload for f in state.stale)
            mark = _pending_path if restarts else _reload_pending_path
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
            state = _State(
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
                await ctx.runner.files.remove(_pending_path(self.unit))
            if state.reload_pending:
                await ctx.runner.files.remove(_reload_pending_path(self.unit))
            return Change(bool(done), self._action(), "; ".join(done))
        if self.defer_restart and state.active:
            # The restart (if one is pending) belongs to a RestartService step.
            state = _State((), state.enabled, True, False, state.healthy, state.reload_pending)
        done += await _start_or_restart(ctx, self.unit, state, self.health, self.journal_lines)
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
        state = await _probe(ctx, self.unit, (), self.health)
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
        state = await _probe(ctx, self.unit, (), self.health)
        done = await _start_or_restart(ctx, self.unit, state, self.health, self.journal_lines)
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
