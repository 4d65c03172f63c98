"""The engine over real SSH: a step that runs past its timeout is cancelled and its command
is killed on the host, as root and through sudo. Uses one leased host."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kubexms.config import load_config
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
from tests.leasing import HostLease, LeaseHosts

pytestmark = pytest.mark.fleet


@dataclass(frozen=True)
class Sleeper(Step):
    """Records its shell's pid in a file on the host, then sleeps far past its timeout."""

    name = "sleeper"
    timeout = 1.0

    pid_file: str
    sudo: bool = field(kw_only=True)

    async def precheck(self, ctx: Context) -> bool:
        return False

    async def run(self, ctx: Context) -> Change | None:
        await ctx.runner.run(f"echo $$ > {self.pid_file}; exec sleep 300", sudo=self.sudo)
        return None


def one_host_cluster(hosts: HostLease, directory: Path, user: str) -> Path:
    def work_dir(document: dict[str, Any]) -> None:
        document["spec"]["global"]["workDir"] = str(directory / "work")

    return hosts.cluster_file(directory, user=user, edit=work_dir)


@pytest.mark.parametrize(("user", "sudo"), [("root", False), ("ops", True)])
async def test_step_timeout_kills_the_remote_command(
    lease: LeaseHosts, tmp_path: Path, user: str, sudo: bool
) -> None:
    hosts = lease(1)
    name = hosts[0].name
    pid_file = f"/tmp/kxms-engine-{secrets.token_hex(4)}"
    config = load_config(one_host_cluster(hosts, tmp_path, user))
    step = Sleeper(pid_file, sudo=sudo)
    graph = Pipeline("p", [Module("m", [Task("t", [step], AllHosts())])]).plan(config)
    seen: list[EventKind] = []
    async with await new_runtime(config) as runtime:
        engine = Engine(
            runtime,
            EngineOptions(retry=RetryPolicy(retries=0)),
            EventBus(lambda e: seen.append(e.kind)),
        )
        result = await engine.run(graph)
        assert [failure.error_type for failure in result.failures] == ["StepTimeoutError"]
        assert EventKind.FAILED in seen
        code, out, _ = await hosts.exec(name, f"cat {pid_file}")
        assert code == 0
        pid = out.strip()
        for _ in range(100):
            code, _, _ = await hosts.exec(name, f"kill -0 {pid} 2>/dev/null")
            if code != 0:
                break
            await asyncio.sleep(0.1)
        assert code != 0, f"the timed-out command (pid {pid}) still runs on {name}"
    await hosts.exec(name, f"rm -f {pid_file}")
