"""`kubexms init os -f <the sandbox's cluster file>` with no flag at all.

Fleet hosts have no route out, so apt fails there; with the default package source (``auto``)
each host notices within a second and gets its packages carried from this machine. The dry
run before tells, per step and host, what would change. Then, as the README's first command
does, a dry run of `create cluster` on those hosts: every phase is planned and checked on
them before the pki phase has made anything, and nothing fails.
"""

# ruff: noqa: ASYNC240 - the test reads the run's event log directly, blocking is fine here

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.leasing import LeaseHosts

pytestmark = pytest.mark.fleet

RUN_TIMEOUT = 1200.0


async def kubexms(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "kubexms",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_init_os_with_no_flags_carries_packages_to_offline_hosts(
    lease: LeaseHosts, tmp_path: Path
) -> None:
    hosts = lease(2)
    for name in hosts.names:
        # socat has no reverse dependencies: removing it leaves a host that needs a package.
        await hosts.run(name, "dpkg -r socat >/dev/null 2>&1 || true")

    def work_dir(document: dict[str, Any]) -> None:
        document["spec"]["global"]["workDir"] = str(tmp_path / "work")

    cluster = str(hosts.cluster_file(tmp_path, edit=work_dir, name="cluster.yaml"))

    code, out, err = await kubexms("plan", "init-os", "-f", cluster, "--check", "-o", "json")
    assert code == 0, err
    plan = json.loads(out)
    (packages,) = [node for node in plan["nodes"] if node["step"] == "packages"]
    for name in hosts.names:
        assert "socat" in packages["changes"][name]

    code, out, err = await kubexms("init", "os", "-f", cluster, "-o", "json")
    assert code == 0, f"{out}\n{err}"
    log = json.loads(out)["log"]
    details = [
        event["detail"]
        for event in map(json.loads, Path(log).read_text().splitlines())
        if event.get("node", "").endswith("/packages") and event["event"] == "changed"
    ]
    assert len(details) == len(hosts.names)
    assert all("socat" in detail and "carried from this machine" in detail for detail in details)
    for name in hosts.names:
        assert "install ok installed" in await hosts.run(name, "dpkg-query -W -f='${Status}' socat")
    assert (tmp_path / "work" / "packages" / "deb" / "PLATFORM.json").is_file()

    code, out, err = await kubexms("init", "os", "-f", cluster, "--dry-run", "-o", "json")
    assert code == 0, err
    assert all(counts["would_change"] == 0 for counts in json.loads(out)["hosts"].values())

    code, out, err = await kubexms("create", "cluster", "-f", cluster, "--dry-run", "-o", "json")
    assert code == 0, f"{out}\n{err}"
    summary = json.loads(out)
    assert all(counts["failed"] == 0 for counts in summary["hosts"].values()), out
    assert sum(counts["would_change"] for counts in summary["hosts"].values()) > 0
    assert not (tmp_path / "work" / "pki").exists()  # a dry run makes nothing
