"""Per-step timeouts really cancel: the step's coroutine is cancelled, and a command it was
running is killed on the host (here: the control machine through the local connector)."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from kubexms.config import Cluster
from kubexms.engine import (
    AllHosts,
    Engine,
    EngineOptions,
    EventBus,
    EventKind,
    Module,
    Pipeline,
    RetryPolicy,
    Step,
    Task,
)
from kubexms.runner import Change
from kubexms.runtime import Context, new_runtime
from tests.unit.engine.world import Recorder, setup

NO_RETRY = RetryPolicy(retries=0)


@dataclass(frozen=True)
class Hang(Step):
    name = "hang"
    timeout = 0.2

    # The hosts whose run was cancelled (a test's record, not a parameter).
    cancelled: list[str] = field(default_factory=list, compare=False)

    async def precheck(self, ctx: Context) -> bool:
        return False

    async def run(self, ctx: Context) -> Change | None:
        try:
            await ctx.runner.run("hang")
        except asyncio.CancelledError:
            self.cancelled.append(ctx.host.name)
            raise
        return None


async def test_timeout_cancels_the_step_and_fails_the_pair() -> None:
    s = await setup(2, delay=30.0)  # every command would take 30 s
    step = Hang()
    graph = Pipeline("p", [Module("m", [Task("t", [step], AllHosts())])]).plan(s.config)
    started = time.monotonic()
    result = await s.engine(retry=NO_RETRY, continue_on_error=True).run(graph)
    assert time.monotonic() - started < 5
    assert len(step.cancelled) == 2
    assert {f.error_type for f in result.failures} == {"StepTimeoutError"}
    assert "did not finish within 0.2s and was cancelled" in result.failures[0].error


async def test_timeouts_are_retried() -> None:
    s = await setup(1, delay=30.0)
    graph = Pipeline("p", [Module("m", [Task("t", [Hang()], AllHosts())])]).plan(s.config)
    await s.engine(retry=RetryPolicy(retries=1, base_delay=0.0)).run(graph)
    assert [e.attempt for e in s.recorder.of(EventKind.RETRIED)] == [1]


def local_cluster(work: Path) -> Cluster:
    return Cluster.model_validate(
        {
            "apiVersion": "kubexms.io/v1alpha1",
            "kind": "Cluster",
            "metadata": {"name": "local"},
            "spec": {
                "hosts": [{"name": "here", "address": "127.0.0.1", "connector": "local"}],
                "roleGroups": {"master": ["here"], "etcd": ["here"]},
                "global": {"workDir": str(work)},
            },
        }
    )


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too; its parent simply has not reaped it yet.
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"


async def test_timeout_kills_the_command_on_the_host(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"

    @dataclass(frozen=True)
    class Sleeper(Step):
        name = "sleeper"
        timeout = 0.5

        async def precheck(self, ctx: Context) -> bool:
            return False

        async def run(self, ctx: Context) -> Change | None:
            await ctx.runner.run(f"echo $$ > {pid_file}; exec sleep 60")
            return None

    config = local_cluster(tmp_path)
    recorder = Recorder()
    graph = Pipeline("p", [Module("m", [Task("t", [Sleeper()], AllHosts())])]).plan(config)
    async with await new_runtime(config) as runtime:
        engine = Engine(runtime, EngineOptions(retry=NO_RETRY), EventBus(recorder))
        result = await engine.run(graph)
    assert result.failures[0].error_type == "StepTimeoutError"
    pid = int(pid_file.read_text())
    for _ in range(200):  # the kill runs in the background: give it up to 10 s
        if not alive(pid):
            break
        await asyncio.sleep(0.05)
    assert not alive(pid), f"the timed-out command (pid {pid}) is still running"
