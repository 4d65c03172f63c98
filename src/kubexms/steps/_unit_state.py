"""A systemd unit on a host: its state in one probe, and starting it until it is healthy.

What the service steps (:mod:`kubexms.steps._service`) are made of: one round trip reads a
unit's files (sha256, mode, owner), whether it is enabled and active, whether a restart or
reload is still pending from an interrupted run (the markers under ``PENDING_DIRECTORY`` and
``RELOAD_PENDING_DIRECTORY``), and one health probe; starting, restarting or reloading waits
until the unit is active and ``Health`` passes, or fails with its last journal lines.
"""

from __future__ import annotations

import math
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from shlex import quote

from kubexms.connector import CommandFailedError
from kubexms.runner import FileSpec, RunnerError, ServiceNotActiveError
from kubexms.runtime import Context
from kubexms.steps._probe import marker, probe_script, probe_values
from kubexms.steps._service_files import ServiceFile

UNIT_DIRECTORY = "/etc/systemd/system"
PENDING_DIRECTORY = "/var/lib/kubexms/restart-pending"
RELOAD_PENDING_DIRECTORY = "/var/lib/kubexms/reload-pending"
_UNIT = re.compile(r"[A-Za-z0-9:_.@-]+")
DROP_IN = re.compile(r"[A-Za-z0-9_.@-]+\.conf")
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


def pending_path(unit: str) -> str:
    return posixpath.join(PENDING_DIRECTORY, unit)


def restart_marker(unit: str) -> FileSpec:
    """The marker that makes ``unit``'s SystemdService (or RestartService) restart it:
    written by another step in the same round trip as a file the service reads (a renewed
    certificate), before that file is replaced."""
    full = full_unit_name(unit)
    return FileSpec(pending_path(full), f"{full}\n".encode(), 0o644)


def reload_pending_path(unit: str) -> str:
    return posixpath.join(RELOAD_PENDING_DIRECTORY, unit)


@dataclass(frozen=True, slots=True)
class UnitState:
    """What one probe found: the files that differ, enabled, active, a restart (``pending``)
    or reload left from an earlier run, and whether the health probe passed."""

    stale: tuple[ServiceFile, ...]
    enabled: bool
    active: bool
    pending: bool
    healthy: bool
    reload_pending: bool = False


async def probe_unit(
    ctx: Context, unit: str, files: Sequence[ServiceFile], health: Health | None
) -> UnitState:
    u = quote(unit)
    extra = "\n".join(
        [
            _LISTENING,
            f"systemctl is-enabled --quiet -- {u} 2>/dev/null && {marker('enabled')}",
            f"systemctl is-active --quiet -- {u} 2>/dev/null && {marker('active')}",
            f"[ -e {quote(pending_path(unit))} ] && {marker('pending')}",
            f"[ -e {quote(reload_pending_path(unit))} ] && {marker('reload')}",
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
    return UnitState(
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


async def start_or_restart(
    ctx: Context, unit: str, state: UnitState, health: Health | None, journal_lines: int
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
        await ctx.runner.files.remove(pending_path(unit))
    if state.reload_pending:
        await ctx.runner.files.remove(reload_pending_path(unit))
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
