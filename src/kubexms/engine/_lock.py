"""Host locks: a file on every target host for the length of a run, so two runs never mix.

The lock is created atomically (``set -C``: the shell's O_EXCL) in ``/run/lock``, which is
emptied at boot, and names its holder: user, machine, pid (with the process's start time, so
a reused pid is not mistaken for the holder), since when, and what it runs. A second run is
refused with that information. A stale lock (its holder is gone) is broken only on request.

A run's commands append their remote process group to ``process_group_log(run_id)`` (see
``Connector.process_group_log``): when the local holder is gone, its remote work may still
run (a killed kubexms leaves apt going). ``--break-lock`` then stops that work (TERM, then
KILL after a grace period) before taking the lock over, and says so.

Locks are taken in one global order, the order of the hosts in the cluster file: the first
host alone, then the others together. Two runs started at the same instant on the same hosts
meet at the first one; one of them wins, the other is refused (and takes nothing else).

Under the lock the run sweeps the temporary directories of earlier runs from the host (a
holder of the lock is the only run on the host), and removes its own at release.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import socket
import time
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from kubexms._errors import KubexmsError
from kubexms.connector import ConnectorError
from kubexms.engine._lock_scripts import (
    LOCK_PATH,
    acquire_script,
    release_script,
    stop_groups_script,
    take_over_script,
)
from kubexms.runner import RunnerError, run_directory
from kubexms.runtime import Host

RELEASE_TIMEOUT = 30.0
STOP_GRACE = 5.0


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

    label = "locked"

    def __init__(
        self, refusals: dict[str, str], *, breakable: bool, unreached: Collection[str] = ()
    ) -> None:
        """``unreached``: the refused hosts that could not be asked at all (a lost connection,
        not a holder): they are not said to be locked by anyone."""
        held = {h: why for h, why in refusals.items() if h not in unreached}
        lost = {h: why for h, why in refusals.items() if h in unreached}
        parts: list[str] = []
        if held:
            lines = "\n".join(f"  - {host}: {why}" for host, why in held.items())
            advice = (
                "If that run is gone, rerun with --break-lock to take its lock over (add "
                "--resume to continue where it stopped); its remote commands are stopped first."
                if breakable
                else "Wait for that run to finish, or stop it first."
            )
            parts.append(f"{len(held)} host(s) are locked by another run:\n{lines}\n{advice}")
        if lost:
            lines = "\n".join(f"  - {host}: {why}" for host, why in lost.items())
            parts.append(
                f"{len(lost)} host(s) could not be locked because they could not be reached:"
                f"\n{lines}\nNo host was locked by this run; rerun when they answer."
            )
        super().__init__("\n".join(parts))
        self.refusals = refusals
        self.unreached = frozenset(lost)
        if not held:
            self.label = "unreachable"


class HostLocks:
    """Locks on a set of hosts, taken all-or-nothing and released at the end of a run.

    ``hosts`` come in the cluster file's order, which is the global locking order.
    ``run_dir``: the run's directory for temporary files on each host (default: the one
    ``run_directory`` names for the holder's run id), removed at release.
    """

    def __init__(
        self,
        hosts: Sequence[Host],
        holder: LockHolder,
        *,
        break_stale: bool = False,
        concurrency: int = 50,
        path: str = LOCK_PATH,
        run_dir: str | None = None,
        stop_grace: float = STOP_GRACE,
    ) -> None:
        self.hosts = list(hosts)
        self.path = path
        self.holder = holder
        self.break_stale = break_stale
        self.run_dir = run_dir or run_directory(holder.run_id)
        self.stop_grace = stop_grace
        self._limit = asyncio.Semaphore(concurrency)
        self._held: list[Host] = []
        self.broken: dict[str, str] = {}  # host -> the holder whose stale lock was broken
        self._breakable = False  # some refusal is a lock whose holder may be gone
        self._unreached: set[str] = set()  # hosts whose lock could not even be asked for
        self.release_errors: dict[str, str] = {}

    async def acquire(self) -> None:
        """Lock every host, or none: HostLockError names each refusal and its holder.

        The first host is locked alone, then the rest together: two runs racing for the
        same hosts meet at the first, so one wins instead of each refusing the other."""
        refusals: dict[str, str] = {}
        if self.hosts:
            first, rest = self.hosts[0], self.hosts[1:]
            why = await self._acquire(first)
            if why:
                refusals[first.name] = why
            else:
                results = await asyncio.gather(*(self._acquire(host) for host in rest))
                refusals = {h.name: w for h, w in zip(rest, results, strict=True) if w}
        if refusals:
            await self.release()
            raise HostLockError(
                refusals,
                breakable=self._breakable and not self.break_stale,
                unreached=self._unreached,
            )

    async def _acquire(self, host: Host) -> str | None:
        async with self._limit:
            try:
                result = await host.runner.script(
                    acquire_script(self.path, self.run_dir), stdin=self.holder.to_json()
                )
            except (ConnectorError, RunnerError) as error:
                self._unreached.add(host.name)
                return f"could not take the lock: {error}"
            lines = result.stdout.splitlines()
            if lines and lines[0] == "@kxms:acquired":
                self._held.append(host)
                return None
            alive = [tuple(line.split()[1:3]) for line in lines if line.startswith("@kxms:alive ")]
            groups = [(g, t) for g, t in alive]
            held_at = next((i for i, line in enumerate(lines) if line == "@kxms:held"), -1)
            content = "\n".join(lines[held_at + 1 :])
            holder = LockHolder.parse(content)
            if holder is None:
                return f"{self.path} holds something kubexms cannot read: {content[:200]!r}"
            gone = holder.is_gone()
            described = holder.describe()
            if groups:
                pgids = ", ".join(g for g, _ in groups)
                described += f"; its remote commands still run on the host (process group {pgids})"
            if not self.break_stale:
                self._breakable = self._breakable or gone is not False
                return f"locked by {described}"
            if gone is False or (gone is None and groups):
                return f"locked by {described}; it still runs, so it is not broken"
            if groups:
                still = await self._stop(host, groups)
                if still:
                    return f"locked by {described}; its commands did not stop ({still})"
                described += ", stopped (TERM, then KILL)"
            try:
                await host.runner.script(
                    take_over_script(self.path, self.run_dir), stdin=self.holder.to_json()
                )
            except (ConnectorError, RunnerError) as error:
                return f"could not break the stale lock: {error}"
            self.broken[host.name] = described
            self._held.append(host)
            return None

    async def _stop(self, host: Host, groups: list[tuple[str, str]]) -> str:
        """Stop the broken run's remote process groups; the ones still alive ("" if none)."""
        try:
            result = await host.runner.script(
                stop_groups_script(groups, self.stop_grace), timeout=self.stop_grace + 30
            )
        except (ConnectorError, RunnerError) as error:
            return str(error)
        return " ".join(line.split()[1] for line in result.stdout.splitlines() if " " in line)

    async def release(self) -> None:
        """Remove our lock from every host that has it; failures are kept, not raised.

        A host whose connection was lost gets one short reconnect attempt (the connector's),
        not a full connect timeout."""
        held, self._held = self._held, []
        await asyncio.gather(*(self._release(host) for host in held))

    async def _release(self, host: Host) -> None:
        async with self._limit:
            try:
                await host.runner.script(
                    release_script(self.path, self.holder.run_id, self.run_dir, self.stop_grace),
                    timeout=RELEASE_TIMEOUT + 2 * self.stop_grace,
                )
            except (ConnectorError, RunnerError) as error:
                self.release_errors[host.name] = str(error)
