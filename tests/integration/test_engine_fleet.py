"""The engine over real SSH: a step that runs past its timeout is cancelled and its command
is killed on the host, as root and through sudo. Uses ``fleet.hosts[-3]`` only."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

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
from kubexms.sandbox import Fleet

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


def one_host_cluster(fleet: Fleet, directory: Path, user: str) -> Path:
    document: dict[str, Any] = yaml.safe_load(fleet.cluster_file.read_text())
    host = dict(document["spec"]["hosts"][-3])
    host["user"] = user
    document["spec"]["hosts"] = [host]
    document["spec"]["roleGroups"] = {"master": [host["name"]], "etcd": [host["name"]]}
    document["spec"]["global"]["workDir"] = str(directory / "work")
    path = directory / f"cluster-{user}.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.mark.parametrize(("user", "sudo"), [("root", False), ("ops", True)])
async def test_step_timeout_kills_the_remote_command(
    fleet: Fleet, tmp_path: Path, user: str, sudo: bool
) -> None:
    name = fleet.hosts[-3].name
    pid_file = f"/tmp/kxms-engine-{secrets.token_hex(4)}"
    config = load_config(one_host_cluster(fleet, tmp_path, user))
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
        code, out, _ = await fleet.host_exec(name, f"cat {pid_file}")
        assert code == 0
        pid = out.strip()
        for _ in range(100):
            code, _, _ = await fleet.host_exec(name, f"kill -0 {pid} 2>/dev/null")
            if code != 0:
                break
            await asyncio.sleep(0.1)
        assert code != 0, f"the timed-out command (pid {pid}) still runs on {name}"
    await fleet.host_exec(name, f"rm -f {pid_file}")
