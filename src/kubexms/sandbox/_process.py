"""Processes the fleet starts: spawning, recognising them again later, stopping them.

A PID alone is not an identity (PIDs are reused), so every recorded process is kept as its PID
plus its start time from ``/proc/<pid>/stat``; we only ever signal a process whose start time
still matches, and we signal through a pidfd so the check and the signal refer to the same
process.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ProcessIdentity",
    "child_pids",
    "identify",
    "is_alive",
    "pid_namespace",
    "reap",
    "send_signal",
    "spawn_detached",
    "wait_gone",
]

# Popen objects of hosts started by this Python process, so their exit can be reaped (a zombie
# would otherwise look alive to /proc until we exit) and no "still running" warning is emitted.
_spawned: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class ProcessIdentity:
    """A process as recorded: its PID and its start time (clock ticks since boot)."""

    pid: int
    start_time: int


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) may contain spaces and parentheses; the rest follows the last ')'.
    return raw[raw.rindex(")") + 2 :].split()


def identify(pid: int) -> ProcessIdentity | None:
    """The identity of a running process, or None if there is no such process."""
    fields = _stat_fields(pid)
    if fields is None:
        return None
    return ProcessIdentity(pid=pid, start_time=int(fields[19]))


def is_alive(identity: ProcessIdentity) -> bool:
    """Whether the recorded process still runs (a zombie or a reused PID is not it)."""
    fields = _stat_fields(identity.pid)
    if fields is None:
        return False
    return fields[0] != "Z" and int(fields[19]) == identity.start_time


def send_signal(identity: ProcessIdentity, signum: signal.Signals) -> bool:
    """Signal the recorded process if it is still the same process; True if signalled."""
    try:
        pidfd = os.pidfd_open(identity.pid)
    except (ProcessLookupError, OSError):
        return False
    try:
        if not is_alive(identity):
            return False
        signal.pidfd_send_signal(pidfd, signum)
        return True
    except ProcessLookupError:
        return False
    finally:
        os.close(pidfd)


def child_pids(pid: int) -> list[int]:
    """PIDs of the direct children of a process (all its threads' children)."""
    children: list[int] = []
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                children.extend(int(c) for c in (task / "children").read_text().split())
    return children


def pid_namespace(pid: int) -> str | None:
    """The PID namespace of a process, as the link text of /proc/<pid>/ns/pid."""
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except (FileNotFoundError, ProcessLookupError):
        return None


def spawn_detached(argv: list[str], *, log_path: Path, env: dict[str, str]) -> ProcessIdentity:
    """Start a long-lived process in its own session, output appended to ``log_path``."""
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env=env,
        )
    _spawned[process.pid] = process
    identity = identify(process.pid)
    if identity is None:
        # It already exited and was reaped by nobody yet; record what Popen knows.
        process.poll()
        return ProcessIdentity(pid=process.pid, start_time=-1)
    return identity


def reap(pid: int) -> None:
    """Collect the exit status of a process we spawned, if it has exited."""
    process = _spawned.get(pid)
    if process is not None and process.poll() is not None:
        del _spawned[pid]


async def wait_gone(identities: list[ProcessIdentity], timeout: float) -> list[ProcessIdentity]:
    """Wait until the processes are gone; return those still alive after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    remaining = list(identities)
    while True:
        for identity in remaining:
            reap(identity.pid)
        remaining = [identity for identity in remaining if is_alive(identity)]
        if not remaining or time.monotonic() >= deadline:
            return remaining
        await asyncio.sleep(0.05)
