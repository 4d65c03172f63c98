"""Host locks under faults: two runs racing for the same hosts, a dead run's remote work.

Hosts are MemoryConnectors whose handler keeps each host's lock file the way the acquire
script does (create if absent, else report the holder), so the order and timing of the two
runs' lock requests is what decides, as on real hosts.
"""

from __future__ import annotations

import asyncio
import json
import socket

from kubexms.connector import HostConnectionError
from kubexms.engine import HostLockError, HostLocks, LockHolder
from kubexms.runtime import ClusterRuntime
from kubexms.testing import Answer, MemoryConnector, cluster_of, memory_runtime

HOSTS = ["node1", "node2", "node3"]


class LockFiles:
    """The lock file of every host, shared by the runtimes of both runs."""

    def __init__(self) -> None:
        self.content: dict[str, str] = {}

    def answer(self, host: str, command: str, stdin: bytes) -> Answer:
        if "set -C" in command:  # acquire
            if host not in self.content:
                self.content[host] = stdin.decode()
                return "@kxms:acquired\n"
            return "@kxms:held\n" + self.content[host]
        if "grep -qF" in command:  # release: only our own
            run_id = json.loads(self.content.get(host, "{}")).get("run_id")
            if run_id and f'"run_id": "{run_id}"' in command:
                del self.content[host]
        return ""


async def runtime_with_delays(files: LockFiles, delays: dict[str, float]) -> ClusterRuntime:
    connectors: dict[str, MemoryConnector] = {}
    runtime = await memory_runtime(cluster_of(3), files.answer, connectors=connectors)
    for name, delay in delays.items():
        connectors[name].delay = delay
    return runtime


async def test_two_runs_started_at_once_on_the_same_hosts_one_wins() -> None:
    # Each run reaches "its" hosts first: run A is quick to node1 and slow to node3, run B
    # the other way round. Taken in any order, each would hold some hosts and be refused
    # the others, and both runs would fail. Taken in config order, exactly one proceeds.
    files = LockFiles()
    fast_first = await runtime_with_delays(files, {"node1": 0.0, "node2": 0.05, "node3": 0.2})
    fast_last = await runtime_with_delays(files, {"node1": 0.2, "node2": 0.05, "node3": 0.0})
    outcomes: dict[str, BaseException | None] = {}

    async def lock(name: str, runtime: ClusterRuntime) -> None:
        holder = LockHolder.this_process(name, "init os", "test")
        hosts = [runtime.inventory[host] for host in HOSTS]
        try:
            await HostLocks(hosts, holder, run_dir=f"/var/tmp/kubexms/run-{name}").acquire()
            outcomes[name] = None
        except HostLockError as error:
            outcomes[name] = error

    await asyncio.gather(lock("runa", fast_first), lock("runb", fast_last))
    winners = [name for name, error in outcomes.items() if error is None]
    assert winners == ["runa"], outcomes
    refusal = outcomes["runb"]
    assert isinstance(refusal, HostLockError)
    assert list(refusal.refusals) == ["node1"]  # refused at the first host, took nothing
    assert {json.loads(text)["run_id"] for text in files.content.values()} == {"runa"}
    assert set(files.content) == set(HOSTS)
    await fast_first.close()
    await fast_last.close()


async def test_a_lock_whose_remote_commands_still_run_says_so_and_break_lock_stops_them() -> None:
    # The holder's local process is gone (pid 1 with a start time that is not pid 1's),
    # but its apt still runs on the host: the refusal says so, --break-lock stops it first.
    gone = LockHolder("dead", "ops", socket.gethostname(), 1, "no-such-start", 0.0, "x", "c")
    stopped: list[str] = []

    def answer(host: str, command: str, stdin: bytes) -> Answer:
        if "set -C" in command:
            return "@kxms:alive 4242 777\n@kxms:held\n" + gone.to_json()
        if "kx_term" in command:
            stopped.append(command)
            return ""
        return "@kxms:acquired\n" if "mv -f" in command else ""

    runtime = await memory_runtime(cluster_of(1), answer)
    host = runtime.inventory["node1"]
    holder = LockHolder.this_process("new", "init os", "test")
    refused = HostLocks([host], holder)
    try:
        await refused.acquire()
    except HostLockError as error:
        message = str(error)
    else:
        raise AssertionError("a lock with live remote commands was not refused")
    assert "remote commands still run on the host (process group 4242)" in message
    assert "--break-lock" in message
    assert "--resume" in message
    assert stopped == []
    breaking = HostLocks([host], holder, break_stale=True)
    await breaking.acquire()
    assert len(stopped) == 1
    assert "4242:777" in stopped[0]
    assert "stopped (TERM, then KILL)" in breaking.broken["node1"]
    await runtime.close()


async def test_a_host_lost_while_locking_is_called_unreachable_not_locked() -> None:
    # A connection that drops while the lock is asked for says nothing about another run:
    # the refusal names the lost host as unreached and advises no --break-lock.
    files = LockFiles()

    def answer(host: str, command: str, stdin: bytes) -> Answer:
        if host == "node2" and "set -C" in command:
            raise HostConnectionError(host, "the connection to 10.0.0.2:22 was lost")
        return files.answer(host, command, stdin)

    runtime = await memory_runtime(cluster_of(3), answer)
    holder = LockHolder.this_process("runa", "init os", "test")
    hosts = [runtime.inventory[host] for host in HOSTS]
    try:
        await HostLocks(hosts, holder, run_dir="/var/tmp/kubexms/run-runa").acquire()
    except HostLockError as error:
        refusal = error
    else:
        raise AssertionError("node2's lost connection was not a refusal")
    message = str(refusal)
    assert "locked by another run" not in message
    assert "1 host(s) could not be locked because they could not be reached" in message
    assert "node2: could not take the lock: node2: the connection" in message
    assert "--break-lock" not in message
    assert refusal.unreached == {"node2"}
    assert refusal.label == "unreachable"
    assert files.content == {}  # all or nothing: node1's and node3's locks were given back
    await runtime.close()
