"""Host locks: a file on every target host for the length of a run, so two runs never mix.

The lock is created atomically (``set -C``: the shell's O_EXCL) in ``/run/lock``, which is
emptied at boot, and names its holder: user, machine, pid (with the process's start time, so
a reused pid is not mistaken for the holder), since when, and what it runs. A second run is
refused with that information. A stale lock (its holder is gone) is broken only on request.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import socket
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from shlex import quote

from kubexms._errors import KubexmsError
from kubexms.connector import ConnectorError
from kubexms.runner import RunnerError
from kubexms.runtime import Host

LOCK_PATH = "/run/lock/kubexms.lock"


def _acquire_script(path: str) -> str:
    return f"""f={quote(path)}
mkdir -p "$(dirname -- "$f")"
if ( set -C; cat > "$f" ) 2>/dev/null; then echo "@kxms:acquired"; exit 0; fi
echo "@kxms:held"; cat "$f" 2>/dev/null || true"""


def _take_over_script(path: str) -> str:
    # Replace whatever lock is there, atomically, with ours (only on --break-lock).
    return f"""f={quote(path)}; t="$f.$$"
cat > "$t" && mv -f "$t" "$f" && echo "@kxms:acquired\""""


def _release_script(path: str, run_id: str) -> str:
    # Only our own lock is removed: its run id must match.
    needle = quote(f'"run_id": "{run_id}"')
    return f"""f={quote(path)}
if grep -qF {needle} "$f" 2>/dev/null; then rm -f "$f"; fi"""


def _process_start(pid: int) -> str | None:
    """The start time of a local process (clock ticks after boot), or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22; the command name (field 2) may hold spaces, so count from its ")".
    return stat.rsplit(")", 1)[1].split()[19]


@dataclass(frozen=True, slots=True)
class LockHolder:
    """Who holds (or asks for) a host lock."""

    run_id: str
    user: str
    machine: str
    pid: int
    pid_start: str
    since: float
    command: str
    cluster: str

    @classmethod
    def this_process(cls, run_id: str, command: str, cluster: str) -> LockHolder:
        pid = os.getpid()
        return cls(
            run_id=run_id,
            user=getpass.getuser(),
            machine=socket.gethostname(),
            pid=pid,
            pid_start=_process_start(pid) or "",
            since=time.time(),
            command=command,
            cluster=cluster,
        )

    @classmethod
    def parse(cls, text: str) -> LockHolder | None:
        try:
            data = json.loads(text)
            return cls(**{key: data[key] for key in cls.__dataclass_fields__})
        except (ValueError, KeyError, TypeError):
            return None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    def is_gone(self) -> bool | None:
        """True if the holder surely no longer runs (a process of this machine that ended);
        False if it runs; None when it lives on another machine and cannot be checked."""
        if self.machine != socket.gethostname():
            return None
        return _process_start(self.pid) != self.pid_start

    def describe(self) -> str:
        since = datetime.fromtimestamp(self.since, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        text = (
            f"{self.user}@{self.machine} (pid {self.pid}, since {since}, "
            f"running '{self.command}' for cluster {self.cluster})"
        )
        gone = self.is_gone()
        if gone:
            text += "; that process is gone, so the lock is stale"
        elif gone is None:
            text += "; it runs on another machine"
        return text


class HostLockError(KubexmsError):
    """Some hosts could not be locked; ``refusals`` maps each to why (holder or error)."""

    def __init__(self, refusals: dict[str, str], *, breakable: bool) -> None:
        lines = "\n".join(f"  - {host}: {why}" for host, why in refusals.items())
        advice = (
            "If that run is gone, rerun with --break-lock to take its lock over."
            if breakable
            else "Wait for that run to finish, or stop it first."
        )
        super().__init__(f"{len(refusals)} host(s) are locked by another run:\n{lines}\n{advice}")
        self.refusals = refusals


class HostLocks:
    """Locks on a set of hosts, taken all-or-nothing and released at the end of a run."""

    def __init__(
        self,
        hosts: Sequence[Host],
        holder: LockHolder,
        *,
        break_stale: bool = False,
        concurrency: int = 50,
        path: str = LOCK_PATH,
    ) -> None:
        self.hosts = list(hosts)
        self.path = path
        self.holder = holder
        self.break_stale = break_stale
        self._limit = asyncio.Semaphore(concurrency)
        self._held: list[Host] = []
        self.broken: dict[str, str] = {}  # host -> the holder whose stale lock was broken
        self._breakable = False  # some refusal is a lock whose holder may be gone
        self.release_errors: dict[str, str] = {}

    async def acquire(self) -> None:
        """Lock every host, or none: HostLockError names each refusal and its holder."""
        results = await asyncio.gather(*(self._acquire(host) for host in self.hosts))
        refusals = {host.name: why for host, why in zip(self.hosts, results, strict=True) if why}
        if refusals:
            await self.release()
            raise HostLockError(refusals, breakable=self._breakable and not self.break_stale)

    async def _acquire(self, host: Host) -> str | None:
        async with self._limit:
            try:
                result = await host.runner.script(
                    _acquire_script(self.path), stdin=self.holder.to_json()
                )
            except (ConnectorError, RunnerError) as error:
                return f"could not take the lock: {error}"
            lines = result.stdout.splitlines()
            if lines and lines[0] == "@kxms:acquired":
                self._held.append(host)
                return None
            content = "\n".join(lines[1:])
            holder = LockHolder.parse(content)
            if holder is None:
                return f"{self.path} holds something kubexms cannot read: {content[:200]!r}"
            if not self.break_stale:
                self._breakable = self._breakable or holder.is_gone() is not False
                return f"locked by {holder.describe()}"
            if holder.is_gone() is False:
                return f"locked by {holder.describe()}; it still runs, so it is not broken"
            try:
                await host.runner.script(_take_over_script(self.path), stdin=self.holder.to_json())
            except (ConnectorError, RunnerError) as error:
                return f"could not break the stale lock: {error}"
            self.broken[host.name] = holder.describe()
            self._held.append(host)
            return None

    async def release(self) -> None:
        """Remove our lock from every host that has it; failures are kept, not raised."""
        held, self._held = self._held, []
        await asyncio.gather(*(self._release(host) for host in held))

    async def _release(self, host: Host) -> None:
        async with self._limit:
            try:
                await host.runner.script(_release_script(self.path, self.holder.run_id), timeout=30)
            except (ConnectorError, RunnerError) as error:
                self.release_errors[host.name] = str(error)
