"""run_plan on this machine (local connector): host locks, checkpoint, resume end to end.

Steps write files under tmp_path through the Runner; the lock lives in tmp_path too, so the
machine's own /run/lock is never touched.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kubexms.config import Cluster
from kubexms.connector import HostConnectionError
from kubexms.engine import (
    AllHosts,
    CheckpointError,
    EngineOptions,
    EventBus,
    EventKind,
    HostLockError,
    HostLocks,
    JsonLinesLog,
    LockHolder,
    Module,
    Pipeline,
    RetryPolicy,
    RunRequest,
    SessionReport,
    Step,
    Task,
    checkpoint_path,
    run_plan,
)
from kubexms.runner import Change
from kubexms.runtime import ClusterRuntime, Context, new_runtime
from kubexms.testing import Answer, MemoryConnector, cluster_of, memory_runtime
from tests.unit.engine.test_timeouts import local_cluster
from tests.unit.engine.world import Recorder


@dataclass(frozen=True)
class Touch(Step):
    """Creates ``<dir>/<name>``; fails while ``<dir>/broken-<name>`` exists."""

    name: str
    directory: Path

    @property
    def path(self) -> str:
        return str(self.directory / self.name)

    @property
    def broken(self) -> str:
        return str(self.directory / f"broken-{self.name}")

    async def precheck(self, ctx: Context) -> bool:
        return await ctx.runner.files.exists(self.path)

    async def run(self, ctx: Context) -> Change | None:
        if await ctx.runner.files.exists(self.broken):
            raise RuntimeError(f"{self.name} is broken here")
        return await ctx.runner.files.write(self.path, "done\n")

    def params(self) -> dict[str, object]:
        return {"path": self.path}


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[ClusterRuntime]:
    async with await new_runtime(local_cluster(tmp_path / "work")) as runtime:
        yield runtime


def touch_pipeline(config: Cluster, directory: Path) -> Pipeline:
    return Pipeline(
        "touch",
        [
            Module("one", [Task("t", [Touch("a", directory), Touch("b", directory)], AllHosts())]),
            Module("two", [Task("u", [Touch("c", directory)], AllHosts())]),
        ],
    )


async def run(
    runtime: ClusterRuntime,
    directory: Path,
    request: RunRequest,
    recorder: Recorder,
    lock: Path,
) -> SessionReport:
    graph = touch_pipeline(runtime.config, directory).plan(runtime.config)
    return await run_plan(
        graph,
        runtime,
        request,
        options=EngineOptions(retry=RetryPolicy(retries=0)),
        events=EventBus(recorder),
        run_id=os.urandom(6).hex(),
        work_dir=runtime.config.work_dir,
        lock_path=str(lock),
        temp_root=str(lock.parent / "run-directories"),
    )


async def test_failed_run_then_resume_skips_completed_pairs(
    runtime: ClusterRuntime, tmp_path: Path
) -> None:
    files = tmp_path / "files"
    files.mkdir()
    (files / "broken-b").write_text("")
    lock = tmp_path / "lock"
    first = Recorder()
    report = await run(runtime, files, RunRequest("test"), first, lock)
    assert not report.result.succeeded
    assert not lock.exists()  # released after the run, even a failed one
    cp = checkpoint_path(runtime.config.work_dir, "touch")
    assert cp.exists()

    (files / "broken-b").unlink()
    second = Recorder()
    report = await run(runtime, files, RunRequest("test", resume=True), second, lock)
    assert report.result.succeeded
    assert report.resumed_pairs == 1
    assert ("touch/one/t/a", "here") not in second.pairs(EventKind.STARTED)
    assert second.pairs(EventKind.CHANGED) == [("touch/one/t/b", "here"), ("touch/two/u/c", "here")]
    assert not cp.exists()  # success: nothing left to resume


async def test_resume_refuses_a_changed_config(runtime: ClusterRuntime, tmp_path: Path) -> None:
    files = tmp_path / "files"
    files.mkdir()
    (files / "broken-a").write_text("")
    await run(runtime, files, RunRequest("test"), Recorder(), tmp_path / "lock")
    # Same work dir, different cluster file (another kube-proxy mode).
    changed = Cluster.model_validate(
        {
            **runtime.config.model_dump(by_alias=True, mode="json"),
            "spec": {
                **runtime.config.model_dump(by_alias=True, mode="json")["spec"],
                "kubernetes": {"kubeProxy": {"mode": "ipvs"}},
            },
        }
    )
    async with await new_runtime(changed) as other:
        with pytest.raises(CheckpointError, match="cluster file changed"):
            await run(other, files, RunRequest("test", resume=True), Recorder(), tmp_path / "l")
        (files / "broken-a").unlink()
        report = await run(
            other, files, RunRequest("test", resume=True, force=True), Recorder(), tmp_path / "l"
        )
        assert report.result.succeeded


async def test_second_run_is_refused_by_the_lock(runtime: ClusterRuntime, tmp_path: Path) -> None:
    lock = tmp_path / "lock"
    holder = LockHolder.this_process("a1b2c3", "kubexms init os", "local")
    first = HostLocks(list(runtime.hosts), holder, path=str(lock))
    await first.acquire()
    content = json.loads(lock.read_text())
    assert content["pid"] == os.getpid()
    assert content["command"] == "kubexms init os"
    files = tmp_path / "files"
    files.mkdir()
    with pytest.raises(HostLockError) as refused:
        await run(runtime, files, RunRequest("second"), Recorder(), lock)
    message = str(refused.value)
    assert f"pid {os.getpid()}" in message
    assert "running 'kubexms init os'" in message
    assert "here: locked by" in message
    assert "Wait for that run to finish" in message  # it runs: breaking it is no advice
    # --break-lock does not break the lock of a holder that still runs.
    with pytest.raises(HostLockError, match="it still runs"):
        await run(runtime, files, RunRequest("second", break_lock=True), Recorder(), lock)
    assert not (files / "a").exists()  # nothing ran
    await first.release()
    assert not lock.exists()


async def test_stale_lock_is_broken_only_on_request(
    runtime: ClusterRuntime, tmp_path: Path
) -> None:
    ended = await asyncio.create_subprocess_exec("true")
    await ended.wait()
    # A holder on this machine whose process has ended.
    dead = dataclasses.replace(
        LockHolder.this_process("d0d0d0", "kubexms init os", "local"),
        pid=ended.pid,
        pid_start="1",
    )
    lock = tmp_path / "lock"
    lock.write_text(dead.to_json())
    files = tmp_path / "files"
    files.mkdir()
    with pytest.raises(HostLockError, match=r"the lock is stale.*\n.*--break-lock"):
        await run(runtime, files, RunRequest("second"), Recorder(), lock)
    recorder = Recorder()
    report = await run(runtime, files, RunRequest("second", break_lock=True), recorder, lock)
    assert report.result.succeeded
    assert "here" in report.broken_locks
    assert not lock.exists()


async def test_release_leaves_another_runs_lock_alone(
    runtime: ClusterRuntime, tmp_path: Path
) -> None:
    lock = tmp_path / "lock"
    mine = HostLocks(
        list(runtime.hosts), LockHolder.this_process("aaa111", "x", "c"), path=str(lock)
    )
    await mine.acquire()
    lock.write_text(LockHolder.this_process("bbb222", "y", "c").to_json())  # taken over
    await mine.release()
    assert lock.exists()


async def test_json_log_has_one_line_per_event(runtime: ClusterRuntime, tmp_path: Path) -> None:
    files = tmp_path / "files"
    files.mkdir()
    log_path = tmp_path / "run.jsonl"
    log = JsonLinesLog.open(log_path, run_id="r1")
    recorder = Recorder()
    graph = touch_pipeline(runtime.config, files).plan(runtime.config)
    await run_plan(
        graph,
        runtime,
        RunRequest("t"),
        options=EngineOptions(),
        events=EventBus(recorder, log),
        run_id="r1",
        work_dir=runtime.config.work_dir,
        lock_path=str(tmp_path / "lock"),
        temp_root=str(tmp_path / "run-directories"),
    )
    log.close()
    lines = [json.loads(line) for line in log_path.read_text().splitlines()]
    assert len(lines) == len(recorder.events)
    assert lines[0]["event"] == "run-started"
    assert lines[-1]["event"] == "run-finished"
    assert lines[-1]["outcome"] == "succeeded"
    changed = [line for line in lines if line["event"] == "changed"]
    assert [(line["node"], line["host"], line["run"]) for line in changed] == [
        ("touch/one/t/a", "here", "r1"),
        ("touch/one/t/b", "here", "r1"),
        ("touch/two/u/c", "here", "r1"),
    ]
    assert all(isinstance(line["duration"], float) for line in changed)


async def test_a_run_stopped_while_locking_releases_the_locks_it_took(tmp_path: Path) -> None:
    # SIGTERM arrives while some hosts are locked and another still answers: the ones taken
    # must be given back, or every later run there is refused.
    commands: list[tuple[str, str]] = []
    node1_locked = asyncio.Event()

    def answer(host: str, command: str, stdin: bytes) -> Answer:
        commands.append((host, command))
        if "@kxms:acquired" not in command:
            return ""
        if host == "node1":
            node1_locked.set()
        return "@kxms:acquired"

    connectors: dict[str, MemoryConnector] = {}
    config = cluster_of(2, work_dir=tmp_path / "work")
    runtime = await memory_runtime(config, answer, connectors=connectors)
    connectors["node2"].delay = 30.0
    graph = touch_pipeline(config, tmp_path).plan(config)
    run = asyncio.ensure_future(
        run_plan(
            graph,
            runtime,
            RunRequest("test"),
            options=EngineOptions(),
            events=EventBus(),
            run_id="r1",
            work_dir=config.work_dir,
        )
    )
    await asyncio.wait_for(node1_locked.wait(), 10)
    await asyncio.sleep(0.05)  # node1's answer is back; node2's takes 30 s
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    released = [c for host, c in commands if host == "node1" and "rm -f" in c]
    assert len(released) == 1
    assert "r1" in released[0]
    assert not checkpoint_path(config.work_dir, "touch").exists()  # nothing ran, nothing kept
    await runtime.close()


async def test_locks_that_could_not_be_released_are_reported_when_stopped(tmp_path: Path) -> None:
    node1_locked = asyncio.Event()

    def answer(host: str, command: str, stdin: bytes) -> Answer:
        if "rm -f" in command:
            raise HostConnectionError(host, "the connection was lost")
        if host == "node1":
            node1_locked.set()
        return "@kxms:acquired"

    connectors: dict[str, MemoryConnector] = {}
    config = cluster_of(2, work_dir=tmp_path / "work")
    runtime = await memory_runtime(config, answer, connectors=connectors)
    connectors["node2"].delay = 30.0
    unreleased: dict[str, str] = {}
    run = asyncio.ensure_future(
        run_plan(
            touch_pipeline(config, tmp_path).plan(config),
            runtime,
            RunRequest("test"),
            options=EngineOptions(),
            events=EventBus(),
            run_id="r2",
            work_dir=config.work_dir,
            unreleased=unreleased,
        )
    )
    await asyncio.wait_for(node1_locked.wait(), 10)
    await asyncio.sleep(0.05)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert list(unreleased) == ["node1"]
    assert "the connection was lost" in unreleased["node1"]
    await runtime.close()
