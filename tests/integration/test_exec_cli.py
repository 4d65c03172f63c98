"""`kubexms exec` on a fleet where 2 hosts are powered off: outputs, 2 errors, exit 1.

Powering hosts off would disturb the shared session fleet, so this module starts its own, of
the session fleet's size (``KUBEXMS_TEST_FLEET_SIZE``) up to 20 hosts and at least 4.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from kubexms.sandbox import Fleet, SandboxError, fleet_down, fleet_up
from tests.leasing import FLEET_SIZE_ENV, fleet_size, require_root

pytestmark = pytest.mark.fleet

SIZE = min(20, fleet_size())
STOPPED = (SIZE // 2, SIZE - 1)  # workers (or the last etcd member of 4) powered off


def kubexms_exec(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kubexms", "exec", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


async def wait_until_gone(fleet: Fleet, name: str) -> None:
    for _ in range(150):
        try:
            await fleet.host_exec(name, "true")
        except SandboxError:  # its init is gone: the host is off
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"{name} did not power off")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def partly_stopped_fleet(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Fleet]:
    require_root()
    if SIZE < 4:
        pytest.skip(f"needs a fleet of its own of 4 hosts; {FLEET_SIZE_ENV} is {SIZE}")
    directory: Path = tmp_path_factory.mktemp("exec-fleet")
    fleet = await fleet_up(SIZE, directory)
    try:
        if fleet.hosts[0].init != "systemd":
            pytest.skip("hosts are powered off through systemd")
        for index in STOPPED:
            name = fleet.hosts[index].name
            await fleet.host_exec(name, "systemctl poweroff --no-block")
        for index in STOPPED:
            await wait_until_gone(fleet, fleet.hosts[index].name)
        yield fleet
    finally:
        await fleet_down(directory)


def test_exec_reports_reachable_outputs_and_unreachable_hosts(partly_stopped_fleet: Fleet) -> None:
    fleet = partly_stopped_fleet
    stopped = [fleet.hosts[i].name for i in STOPPED]
    done = kubexms_exec("-f", str(fleet.cluster_file), "-o", "json", "--", "hostname")
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    assert list(data["hosts"]) == [host.name for host in fleet.hosts]
    ran = {n: r for n, r in data["hosts"].items() if r["error"] is None}
    assert len(ran) == SIZE - len(STOPPED)
    for name, result in ran.items():
        assert (result["exit_code"], result["stdout"]) == (0, f"{name}\n")
    assert sorted(data["failed"]) == sorted(stopped)
    for name in stopped:
        assert data["hosts"][name]["error"]
    assert f"failed on 2 of {SIZE} hosts" in done.stderr
    assert all(name in done.stderr for name in stopped)
    assert "Traceback" not in done.stderr


def test_exec_text_folds_identical_outputs(partly_stopped_fleet: Fleet) -> None:
    fleet = partly_stopped_fleet
    done = kubexms_exec(
        "-f", str(fleet.cluster_file), "--concurrency", "5", "--sudo", "--", "id", "-un"
    )
    assert done.returncode == 1
    assert f"({SIZE - len(STOPPED)} hosts): exit 0" in done.stdout
    assert done.stdout.count("root\n") == 1
    assert done.stdout.count(": unreachable") == len(STOPPED)  # messages name each address


def test_exec_on_a_role_of_reachable_hosts_succeeds(partly_stopped_fleet: Fleet) -> None:
    fleet = partly_stopped_fleet
    done = kubexms_exec("-f", str(fleet.cluster_file), "--role", "master", "--", "exit 0")
    assert done.returncode == 0, done.stderr + done.stdout
    wanted = ",".join(fleet.hosts[i].name for i in (0, 1))
    mixed = kubexms_exec("-f", str(fleet.cluster_file), "--hosts", wanted, "--", "exit 4")
    assert mixed.returncode == 1
    assert "exit 4" in mixed.stdout
    unknown = kubexms_exec("-f", str(fleet.cluster_file), "--hosts", "nosuch", "--", "true")
    assert unknown.returncode == 2
    assert "nosuch" in unknown.stderr
