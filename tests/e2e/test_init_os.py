"""`kubexms init os` on five hosts of the simulated fleet, end to end.

The module leases five systemd hosts for its tests; their hostnames already equal their names,
which init os keeps. Packages come the air-gapped way:
downloaded on this machine (``--download-packages``), uploaded and installed offline. The
tests run in order and build on each other: a first run (a concurrent second run is refused
by the host locks), a second run that changes nothing, then a run that loses one host's sshd
in the middle and is resumed.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml

from kubexms.sandbox import Fleet
from tests.event_log import events
from tests.leasing import PACKAGES_INSTALLED, HostPool

pytestmark = pytest.mark.fleet

PACKAGES = ["conntrack", "socat", "ipset", "ebtables", "ethtool", "iptables"]
LOCK = "/run/lock/kubexms.lock"
RUN_TIMEOUT = 1200.0


@dataclass
class InitOS:
    fleet: Fleet
    hosts: list[str]
    cluster: Path
    work: Path
    debs: Path

    def args(self, *extra: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "kubexms",
            "init",
            "os",
            "-f",
            str(self.cluster),
            "--download-packages",
            "--packages-dir",
            str(self.debs),
            "--timezone",
            "UTC",
            *extra,
        ]

    async def start(self, *extra: str) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            *self.args(*extra),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )

    async def run(self, *extra: str) -> tuple[int, str, str]:
        return await finish(await self.start(*extra))

    async def on(self, host: str, command: str) -> str:
        code, out, err = await self.fleet.host_exec(host, command)
        assert code == 0, f"{host}: {command!r} exited {code}: {err}"
        return out

    def logs(self) -> set[Path]:
        return set((self.work / "runs").glob("*.jsonl"))


async def finish(process: asyncio.subprocess.Process) -> tuple[int, str, str]:
    out, err = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def summary(stdout: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(stdout)
    return document


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def init_os(
    fleet_pool: HostPool, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[InitOS]:
    # Fresh hosts (the first run must install the packages), handed on to later modules that
    # want them installed.
    with fleet_pool.lease(
        5, init="systemd", holder=__name__, prepares=PACKAGES_INSTALLED
    ) as leased:
        directory = tmp_path_factory.mktemp("init-os")
        names = leased.names

        def shape(document: dict[str, Any]) -> None:
            document["metadata"]["name"] = "init-os-test"
            document["spec"]["roleGroups"] = {
                "master": names[:1],
                "etcd": names[:1],
                "worker": names[1:],
            }
            document["spec"]["global"]["workDir"] = str(directory / "work")

        cluster = leased.cluster_file(directory, edit=shape, name="cluster.yaml")
        # The session's packages directory: downloaded once for every module that needs them.
        debs = fleet_pool.packages_dir
        yield InitOS(leased.fleet, names, cluster, directory / "work", debs)


async def wait_for(probe: Any, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await probe():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def test_first_run_prepares_every_host_and_a_second_run_is_locked_out(
    init_os: InitOS,
) -> None:
    first = await init_os.start("-o", "json")
    master = init_os.hosts[0]

    async def locked() -> bool:
        code, _, _ = await init_os.fleet.host_exec(master, f"test -s {LOCK}")
        return code == 0 or first.returncode is not None

    await wait_for(locked, "the first run to lock the hosts")
    code, _, err = await init_os.run("-o", "json")
    assert code == 1, err
    assert "locked by another run" in err
    assert f"pid {first.pid}" in err
    assert "running 'kubexms init os' for cluster init-os-test" in err
    # Locks are taken in config order, first host alone: the refusal comes from it.
    assert f"{init_os.hosts[0]}: locked by" in err

    code, out, err = await finish(first)
    assert code == 0, err
    result = summary(out)
    assert result["outcome"] == "succeeded"
    for host in init_os.hosts:
        counts = result["hosts"][host]
        assert counts["failed"] == 0
        assert counts["changed"] > 0, counts

    spec = yaml.safe_load(init_os.cluster.read_text())["spec"]
    expected_block = [f"{h['internalAddress']} {h['name']}" for h in spec["hosts"]]
    for host in init_os.hosts:
        assert (await init_os.on(host, "hostname")).strip() == host
        hosts_file = (await init_os.on(host, "cat /etc/hosts")).splitlines()
        block = hosts_file[
            hosts_file.index("# BEGIN kubexms") + 1 : hosts_file.index("# END kubexms")
        ]
        assert [" ".join(line.split()) for line in block] == expected_block
        assert (await init_os.on(host, "awk 'NR > 1' /proc/swaps")) == ""
        modules = await init_os.on(host, "cat /etc/modules-load.d/kubexms.conf")
        assert modules == "overlay\nbr_netfilter\n"
        sysctl = await init_os.on(host, "cat /etc/sysctl.d/99-kubexms.conf")
        assert "net.ipv4.ip_forward = 1" in sysctl
        assert "kernel.panic = 10" in sysctl  # persisted; read-only here, applied at boot
        assert (await init_os.on(host, "cat /proc/sys/net/ipv4/ip_forward")).strip() == "1"
        status = await init_os.on(
            host, "dpkg-query -W -f='${Package} ${db:Status-Abbrev}\\n' " + " ".join(PACKAGES)
        )
        assert sorted(line.split()[0] for line in status.splitlines() if " ii" in line) == sorted(
            PACKAGES
        )
        assert (await init_os.on(host, "readlink /etc/localtime")).strip() == (
            "/usr/share/zoneinfo/UTC"
        )
        code, _, _ = await init_os.fleet.host_exec(host, f"test -e {LOCK}")
        assert code != 0, f"{host} still holds the lock after the run"
    assert not (init_os.work / "checkpoints" / "init-os.jsonl").exists()


async def test_second_run_changes_nothing(init_os: InitOS) -> None:
    code, out, err = await init_os.run("-o", "json")
    assert code == 0, err
    result = summary(out)
    for host in init_os.hosts:
        assert result["hosts"][host]["changed"] == 0, result["hosts"][host]
        assert result["hosts"][host]["unchanged"] == 13
    outcomes = {
        event["event"]
        for event in events(Path(result["log"]))
        if event["event"] in ("changed", "unchanged", "skipped", "failed")
    }
    assert outcomes == {"unchanged"}

    code, out, err = await init_os.run("--dry-run", "-o", "json")
    assert code == 0, err
    dry = summary(out)
    assert dry["dry_run"] is True
    assert all(counts["would_change"] == 0 for counts in dry["hosts"].values())


async def test_lost_host_fails_the_run_and_resume_finishes_it(init_os: InitOS) -> None:
    victim = init_os.hosts[2]
    # Give the run real work, so it is still going when the host goes away (the package step
    # on the victim alone: dpkg on all five would only make the run longer).
    await init_os.on(victim, "dpkg -r socat >/dev/null")
    for host in init_os.hosts:
        await init_os.on(host, "rm -f /etc/sysctl.d/99-kubexms.conf")
    before = init_os.logs()
    first = await init_os.start("-o", "json")

    def log() -> Path | None:
        new = init_os.logs() - before
        return next(iter(new)) if new else None

    async def victim_checked() -> bool:
        path = log()
        if path is None:
            return first.returncode is not None
        return any(
            e["event"] == "unchanged"
            and e.get("host") == victim
            and e.get("node") == "init-os/preflight/checks/clock"
            for e in events(path)
        )

    await wait_for(victim_checked, f"{victim} to pass preflight")
    # Stop sshd and end the sessions it already serves (ssh.service keeps them otherwise).
    await init_os.on(victim, "systemctl stop ssh && loginctl terminate-user root")
    try:
        code, out, err = await finish(first)
    finally:
        await init_os.on(victim, "systemctl start ssh")
    assert code == 1, out
    assert f"init os failed on {victim}" in err
    failed_run = summary(out)
    assert failed_run["failed_hosts"] == [victim]
    assert failed_run["hosts"][victim]["errors"]
    first_log = log()
    assert first_log is not None
    completed = {
        (e["node"], e["host"]) for e in events(first_log) if e["event"] in ("changed", "unchanged")
    }
    assert completed

    # The victim's lock could not be released while it was unreachable: it is stale now.
    code, _, err = await init_os.run("--resume", "-o", "json")
    assert code == 1
    assert f"{victim}: locked by" in err
    assert "that process is gone, so the lock is stale" in err
    assert "--break-lock" in err

    before = init_os.logs()
    code, out, err = await init_os.run("--resume", "--break-lock", "-o", "json")
    assert code == 0, err
    assert summary(out)["outcome"] == "succeeded"
    (second_log,) = init_os.logs() - before
    second = events(second_log)
    started = {(e["node"], e["host"]) for e in second if e["event"] == "started"}
    assert started.isdisjoint(completed), started & completed
    resumed = {
        (e["node"], e["host"])
        for e in second
        if e["event"] == "skipped" and "earlier run" in e.get("detail", "")
    }
    assert resumed == completed
    finished = {(e["node"], e["host"]) for e in second if e["event"] in ("changed", "unchanged")}
    plan_pairs = len(init_os.hosts) * 13 + 1  # 13 steps per host, one download
    assert len(finished | completed) == plan_pairs
    assert not (init_os.work / "checkpoints" / "init-os.jsonl").exists()
    socat = await init_os.on(victim, "dpkg-query -W -f='${db:Status-Abbrev}' socat")
    assert socat.startswith("ii")
