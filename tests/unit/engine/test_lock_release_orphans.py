"""Releasing a host lock first ends what is left of the run on the host (real processes).

A command whose SSH session died (sshd killed and restarted, a connection lost and regained)
goes on as an orphan: the run no longer hears from it, retries the step and ends. Before, the
release removed the run directory while such an orphan could still write into it, and a run
directory of a finished run stayed behind. The release now gives the run's process groups
still alive the stop grace, then TERM, then KILL, before it removes anything.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

from kubexms.connector import LocalConnector
from kubexms.engine import HostLocks, LockHolder
from kubexms.engine._lock_scripts import process_group_log
from kubexms.runner import Runner
from kubexms.runtime import Host

SLACK = 20.0  # the machine running the tests may be heavily loaded


def start_time(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]


def exists(path: str | Path) -> bool:
    return Path(path).exists()


def append(path: str, text: str) -> None:
    with open(path, "a") as file:
        file.write(text)


async def test_release_stops_the_runs_orphans_before_removing_its_directory(
    tmp_path: Path,
) -> None:
    lock_path = str(tmp_path / "lock" / "kubexms.lock")
    run_dir = tmp_path / "var" / "run-abc"
    log = process_group_log("abc", lock_path)
    connector = LocalConnector("here")
    connector.process_group_log = log  # as in a real run: the release script is logged too
    host = Host("here", "127.0.0.1", "127.0.0.1", 22, "root", frozenset(), Runner(connector))
    holder = LockHolder.this_process("abc", "init os", "test")
    locks = HostLocks([host], holder, path=lock_path, run_dir=str(run_dir), stop_grace=1.0)
    await locks.acquire()
    # An orphan of the run that ignores TERM and keeps writing into the run directory.
    orphan = await asyncio.create_subprocess_exec(
        "sh",
        "-c",
        f"trap '' TERM; while :; do mkdir -p {run_dir}/late; sleep 0.05; done",
        start_new_session=True,
    )
    try:
        append(log, f"{orphan.pid} {start_time(orphan.pid)}\n")
        for _ in range(400):
            if exists(run_dir / "late"):
                break
            await asyncio.sleep(0.05)
        started = time.monotonic()
        await locks.release()
        assert locks.release_errors == {}
        assert time.monotonic() - started < 2 * 1.0 + SLACK
        # TERM was ignored: KILL after the grace.
        assert await asyncio.wait_for(orphan.wait(), SLACK) == -signal.SIGKILL
        await asyncio.sleep(0.3)
        assert not exists(run_dir)  # removed after the orphan ended, so it stays removed
        assert not exists(lock_path)
        assert not exists(log)
    finally:
        if orphan.returncode is None:
            orphan.kill()
            await orphan.wait()
        await connector.close()


async def test_release_without_orphans_does_not_wait(tmp_path: Path) -> None:
    lock_path = str(tmp_path / "kubexms.lock")
    connector = LocalConnector("here")
    connector.process_group_log = process_group_log("abc", lock_path)
    host = Host("here", "127.0.0.1", "127.0.0.1", 22, "root", frozenset(), Runner(connector))
    holder = LockHolder.this_process("abc", "init os", "test")
    locks = HostLocks([host], holder, path=lock_path, run_dir=str(tmp_path / "run-abc"))
    await locks.acquire()
    await connector.must_run("true")  # a finished command of the run, in the log
    started = time.monotonic()
    await locks.release()
    assert locks.release_errors == {}
    assert time.monotonic() - started < 4.0  # well under the 5 s stop grace
    assert not exists(lock_path)
    await connector.close()
