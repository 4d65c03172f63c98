"""``runner.services``: systemd units: install, reload, enable, start, stop, wait."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING

from kubexms.runner._change import Change, combine
from kubexms.runner._errors import ServiceNotActiveError, UnsupportedHostError
from kubexms.runner._file_sync import FileSpec, build_tar, file_changes, sync_script
from kubexms.runner._script import check_path, check_prelude, markers, quote

if TYPE_CHECKING:
    from kubexms.runner._runner import Runner

_UNIT = re.compile(r"[A-Za-z0-9:_.@\\-]+")
_UNIT_TYPES = (
    ".service",
    ".socket",
    ".target",
    ".timer",
    ".mount",
    ".path",
    ".slice",
    ".scope",
    ".swap",
)
_DROP_IN = re.compile(r"[A-Za-z0-9_.@-]+\.conf")
_REQUIRE_SYSTEMD = '[ -d /run/systemd/system ] || { echo "@kxms:nosystemd"; exit 0; }'
UNIT_DIRECTORY = "/etc/systemd/system"


def unit_name(name: str) -> str:
    """``name`` as a full unit name (``.service`` added when no unit type is given)."""
    if not _UNIT.fullmatch(name) or name.startswith("-"):
        raise ValueError(f"{name!r} is not a systemd unit name")
    return name if name.endswith(_UNIT_TYPES) else f"{name}.service"


def wait_script(unit: str, *, timeout: float, interval: float, journal_lines: int) -> str:
    polls = max(1, math.ceil(timeout / interval))
    return f"""{_REQUIRE_SYSTEMD}
u={quote(unit)}
i=0
while :; do
  s=$(systemctl is-active -- "$u" 2>/dev/null || true)
  if [ "$s" = active ]; then echo "@kxms:state active"; exit 0; fi
  if [ "$s" = failed ] || [ "$i" -ge {polls} ]; then break; fi
  i=$((i + 1))
  sleep {interval:g}
done
echo "@kxms:state $s"
journalctl -u "$u" -n {journal_lines} --no-pager 2>&1 | sed 's/^/@kxms:journal /'
"""


class Services:
    """systemd units on the host. Fails with UnsupportedHostError where systemd is not init."""

    def __init__(self, runner: Runner) -> None:
        self._runner = runner

    async def _systemd(
        self, action: str, body: str, *, check: bool = False, timeout: float | None = None
    ) -> Change:
        script = f"set -e\n{check_prelude(check)}\n{_REQUIRE_SYSTEMD}\n{body}"
        result = await self._runner.script(script, timeout=timeout)
        self._require_systemd(result.stdout)
        done = " ".join(markers(result.stdout, "done"))
        return Change(bool(done), action, done)

    def _require_systemd(self, stdout: str) -> None:
        if markers(stdout, "nosystemd"):
            raise UnsupportedHostError(
                self._runner.host_name, "systemd is not the init system of this host"
            )

    async def install_unit(
        self,
        name: str,
        content: str,
        *,
        drop_ins: Mapping[str, str] | None = None,
        directory: str = UNIT_DIRECTORY,
        check: bool = False,
    ) -> Change:
        """Write a unit file (and drop-ins ``<unit>.d/<name>.conf``) in one round trip;
        ``systemctl daemon-reload`` runs only if one of them changed. The detail names the
        files that differ (``check``: would be written, and the daemon reloaded)."""
        unit = unit_name(name)
        directory = check_path(directory)
        specs = [FileSpec(f"{directory}/{unit}", content.encode())]
        for drop_in, text in (drop_ins or {}).items():
            if not _DROP_IN.fullmatch(drop_in):
                raise ValueError(f"drop-in name {drop_in!r} must look like NAME.conf")
            specs.append(FileSpec(f"{directory}/{unit}.d/{drop_in}", text.encode()))
        script = sync_script(
            specs,
            after_change="if [ -d /run/systemd/system ]; then kx_act systemctl daemon-reload; "
            "echo @kxms:reloaded; fi",
            check=check,
            temp_root=self._runner.temp_dir,
        )
        result = await self._runner.script(script, stdin=build_tar(specs))
        changes = file_changes(specs, result.stdout)
        change = combine(
            f"install unit {unit}",
            [Change(c.changed, c.action, f"{c.action[6:]}: {c.detail}") for c in changes],
        )
        if markers(result.stdout, "reloaded"):
            return Change(True, change.action, change.detail + "; daemon reloaded")
        return change

    async def daemon_reload(self, *, check: bool = False) -> Change:
        """Make systemd re-read its unit files (always a change)."""
        return await self._systemd(
            "systemctl daemon-reload",
            'kx_act systemctl daemon-reload; echo "@kxms:done reloaded"',
            check=check,
        )

    async def enable(self, name: str, *, check: bool = False) -> Change:
        """Enable the unit at boot (does not start it). A unit without an ``[Install]``
        section (``static``) cannot be enabled and is reported unchanged."""
        unit = quote(unit_name(name))
        body = (
            f"systemctl is-enabled --quiet -- {unit} || "
            f"{{ kx_act systemctl enable -- {unit} >&2; echo '@kxms:done enabled {unit}'; }}"
        )
        return await self._systemd(f"enable {unit_name(name)}", body, check=check)

    async def disable(self, name: str, *, check: bool = False) -> Change:
        unit = quote(unit_name(name))
        body = (
            f"if systemctl is-enabled --quiet -- {unit}; then "
            f"kx_act systemctl disable -- {unit} >&2; echo '@kxms:done disabled {unit}'; fi"
        )
        return await self._systemd(f"disable {unit_name(name)}", body, check=check)

    async def start(self, name: str, *, check: bool = False) -> Change:
        """Start the unit unless it is already active."""
        unit = quote(unit_name(name))
        body = (
            f"systemctl is-active --quiet -- {unit} || "
            f"{{ kx_act systemctl start -- {unit} >&2; echo '@kxms:done started {unit}'; }}"
        )
        return await self._systemd(f"start {unit_name(name)}", body, check=check)

    async def stop(self, name: str, *, check: bool = False) -> Change:
        """Stop the unit if it is active."""
        unit = quote(unit_name(name))
        body = (
            f"if systemctl is-active --quiet -- {unit}; then "
            f"kx_act systemctl stop -- {unit} >&2; echo '@kxms:done stopped {unit}'; fi"
        )
        return await self._systemd(f"stop {unit_name(name)}", body, check=check)

    async def restart(self, name: str, *, check: bool = False) -> Change:
        """Restart the unit (always a change)."""
        unit = quote(unit_name(name))
        body = f"kx_act systemctl restart -- {unit} >&2; echo '@kxms:done restarted {unit}'"
        return await self._systemd(f"restart {unit_name(name)}", body, check=check)

    async def is_active(self, name: str) -> bool:
        return await self._query("is-active", name)

    async def is_enabled(self, name: str) -> bool:
        return await self._query("is-enabled", name)

    async def _query(self, verb: str, name: str) -> bool:
        unit = quote(unit_name(name))
        script = (
            f"{_REQUIRE_SYSTEMD}\nif systemctl {verb} --quiet -- {unit}; then echo @kxms:yes; fi"
        )
        result = await self._runner.script(script)
        self._require_systemd(result.stdout)
        return bool(markers(result.stdout, "yes"))

    async def wait_until_active(
        self,
        name: str,
        *,
        timeout: float = 60.0,
        interval: float = 0.5,
        journal_lines: int = 20,
    ) -> None:
        """Wait (on the host, one round trip) until the unit is active.

        Raises ServiceNotActiveError carrying the unit's last journal lines if it fails or
        is still not active after ``timeout`` seconds.
        """
        if timeout <= 0 or interval <= 0:
            raise ValueError("timeout and interval must be positive")
        unit = unit_name(name)
        script = wait_script(unit, timeout=timeout, interval=interval, journal_lines=journal_lines)
        result = await self._runner.script(script, timeout=timeout + 60)
        self._require_systemd(result.stdout)
        state = (markers(result.stdout, "state") or [""])[0]
        if state != "active":
            journal = "\n".join(markers(result.stdout, "journal"))
            raise ServiceNotActiveError(self._runner.host_name, unit, state, timeout, journal)
