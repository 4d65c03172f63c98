"""Raising ``fs.inotify.max_user_instances`` while systemd hosts run, and restoring it.

Every systemd host uses about 16 inotify instances of the (shared) root user; the Debian default
of 128 stops the 8th host with "Failed to create inotify object: Too many open files". The value
the machine had before the first fleet is kept in a small state file under /run together with
each fleet's share, so concurrent fleets add up and the last one down restores the original.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from kubexms.sandbox._machine_lock import machine_lock

__all__ = ["release_inotify", "reserve_inotify"]

_SYSCTL = Path("/proc/sys/fs/inotify/max_user_instances")
_STATE = Path("/run/kubexms/sandbox-inotify.json")
_PER_HOST = 16
_BASE = 256


def _load() -> tuple[int, dict[str, int]] | None:
    try:
        data = json.loads(_STATE.read_text())
        return int(data["original"]), {str(k): int(v) for k, v in data["fleets"].items()}
    except (FileNotFoundError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _store(original: int, fleets: dict[str, int]) -> None:
    wanted = max(original, _BASE + _PER_HOST * sum(fleets.values())) if fleets else original
    if int(_SYSCTL.read_text()) != wanted:
        _SYSCTL.write_text(str(wanted))
    if fleets:
        _STATE.parent.mkdir(parents=True, exist_ok=True)
        _STATE.write_text(json.dumps({"original": original, "fleets": fleets}))
    else:
        _STATE.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            _STATE.parent.rmdir()


def _reserve(fleet: str, hosts: int) -> None:
    original, fleets = _load() or (int(_SYSCTL.read_text()), {})
    fleets[fleet] = hosts
    _store(original, fleets)


def _release(fleet: str) -> None:
    loaded = _load()
    if loaded is None:
        return
    original, fleets = loaded
    fleets.pop(fleet, None)
    _store(original, fleets)


async def reserve_inotify(fleet: str, hosts: int) -> None:
    """Make room for ``hosts`` more systemd hosts, recorded under the key ``fleet``."""
    async with machine_lock():
        _reserve(fleet, hosts)


async def release_inotify(fleet: str) -> None:
    """Give back a fleet's share; the last fleet restores the machine's original value."""
    async with machine_lock():
        _release(fleet)
