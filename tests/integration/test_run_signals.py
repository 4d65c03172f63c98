"""SIGTERM, SIGHUP and SIGINT stop a run alike: the remote command is killed, the host lock
released, the checkpoint kept, the exit code 128 + the signal, and ``--resume`` finishes.
Each test leases one host."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.interruptible_run import DONE, HOLD, MARKER, PID_FILE
from tests.leasing import HostLease, LeaseHosts

pytestmark = pytest.mark.fleet

LOCK = "/run/lock/kubexms.lock"
ROOT = Path(__file__).resolve().parents[2]


def _cluster(hosts: HostLease, directory: Path, user: str = "root") -> Path:
    def work_here(document: dict[str, Any]) -> None:
        document["spec"].setdefault("global", {})["workDir"] = str(directory / "work")

    return hosts.cluster_file(directory, user=user, edit=work_here, name="cluster.yaml")


async def _on(hosts: HostLease, command: str) -> tuple[int, str]:
    code, out, _ = await hosts.exec(hosts[0], command)
    return code, out


async def _run(cluster: Path, *extra: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.integration.interruptible_run",
        str(cluster),
        *extra,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


@pytest.mark.parametrize(
    ("signum", "code", "user"),
    [
        (signal.SIGTERM, 143, "root"),
        (signal.SIGTERM, 143, "ops"),  # the remote command runs under sudo
        (signal.SIGHUP, 129, "root"),
        (signal.SIGINT, 130, "root"),
    ],
)
async def test_a_signal_stops_the_run_cleanly_and_resume_finishes_it(
    lease: LeaseHosts, tmp_path: Path, signum: int, code: int, user: str
) -> None:
    hosts = lease(1)
    host = hosts[0].name
    cluster = _cluster(hosts, tmp_path, user)
    await _on(hosts, f"rm -f {PID_FILE} {MARKER} {DONE}; touch {HOLD}")
    process = await _run(cluster, "-o", "json")
    try:
        deadline = time.monotonic() + 60
        pid = ""
        while not pid:
            assert time.monotonic() < deadline, "the wait step never started on the host"
            assert process.returncode is None
            await asyncio.sleep(0.2)
            _, pid = await _on(hosts, f"cat {PID_FILE} 2>/dev/null")
            pid = pid.strip()
        process.send_signal(signum)
        out, err = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    stderr = err.decode()
    assert process.returncode == code, stderr
    assert "--resume" in stderr
    assert signal.Signals(signum).name in stderr
    document = json.loads(out)
    assert document["outcome"] == "interrupted"
    assert document["exit_code"] == code
    assert document["error"]["kind"] == "interrupted"
    # Nothing left behind on the host: the sleeping command is gone, the lock released.
    alive, _ = await _on(hosts, f"kill -0 {pid} 2>/dev/null")
    assert alive != 0, f"the remote command (pid {pid}) still runs on {host}"
    locked, _ = await _on(hosts, f"test -e {LOCK}")
    assert locked != 0, f"{LOCK} is left on {host}"
    checkpoint = tmp_path / "work" / "checkpoints" / "interruptible.jsonl"
    assert checkpoint.exists()
    assert '"node":"interruptible/m/t/marker"' in checkpoint.read_text()

    await _on(hosts, f"rm -f {HOLD}")
    resumed = await _run(cluster, "--resume")
    out, err = await asyncio.wait_for(resumed.communicate(), 120)
    assert resumed.returncode == 0, err.decode()
    assert (await _on(hosts, f"test -e {DONE}"))[0] == 0
    assert not checkpoint.exists()
    await _on(hosts, f"rm -f {PID_FILE} {MARKER} {DONE}")


async def test_a_run_refused_by_a_host_lock_prints_one_json_document(
    lease: LeaseHosts, tmp_path: Path
) -> None:
    hosts = lease(1)
    host = hosts[0].name
    cluster = _cluster(hosts, tmp_path)
    await _on(hosts, f"rm -f {PID_FILE} {MARKER} {DONE}; touch {HOLD}")
    first = await _run(cluster)
    try:
        deadline = time.monotonic() + 60
        while (await _on(hosts, f"test -s {PID_FILE}"))[0] != 0:
            assert time.monotonic() < deadline, "the first run never reached its wait step"
            await asyncio.sleep(0.2)
        second = await _run(cluster, "-o", "json")
        out, err = await asyncio.wait_for(second.communicate(), 60)
        assert second.returncode == 1, err.decode()
        document = json.loads(out)
        assert document["outcome"] == "lock"
        assert document["error"]["kind"] == "lock"
        assert host in document["error"]["message"]
        assert "locked by another run" in document["error"]["message"]
    finally:
        first.send_signal(signal.SIGTERM)
        await asyncio.wait_for(first.communicate(), 60)
        await _on(hosts, f"rm -f {HOLD} {PID_FILE} {MARKER} {DONE}")
    assert first.returncode == 143
