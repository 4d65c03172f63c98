"""`kubexms etcd status | backup | restore` and scheduled backups on a real 3-member TLS etcd.

The etcd is made by ``kubexms create cluster --only etcd`` on three leased systemd hosts
(tests/etcd_cluster.py: etcd 3.4.23 from Debian in etcd's release layout, pinned by sha256),
with ``spec.etcd.backup`` set. The tests run in order and build on each other: status, backup,
restore, a damaged snapshot refused, an interrupted restore finished by a rerun, the etcd
phase changing nothing after all that, the backup timer, a stopped member.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml

from kubexms.config import Cluster, load_config
from kubexms.etcd import (
    UNIT_NAME,
    etcdctl_command,
    members,
)
from kubexms.etcd._layout import members as etcd_members
from kubexms.sandbox import Fleet
from tests.etcd_cluster import Etcd, etcd_cluster
from tests.leasing import HostPool

pytestmark = pytest.mark.fleet

RUN_TIMEOUT = 600.0
DATA_DIR = "/var/lib/etcd"
BACKUP_DIR = "/var/backups/etcd"


@dataclass
class EtcdFleet:
    fleet: Fleet
    hosts: list[str]
    cluster_file: Path
    cluster: Cluster
    work: Path
    made: Etcd

    async def on(self, host: str, command: str) -> str:
        code, out, err = await self.fleet.host_exec(host, command)
        assert code == 0, f"{host}: {command!r} exited {code}: {out}{err}"
        return out

    async def etcdctl(self, host: str, arguments: str) -> str:
        return await self.on(host, etcdctl_command(arguments))

    def args(self, command: str, *extra: str, cluster: Path | None = None) -> list[str]:
        return [
            sys.executable,
            "-m",
            "kubexms",
            "etcd",
            command,
            "-f",
            str(cluster or self.cluster_file),
            *extra,
        ]

    async def start(
        self, command: str, *extra: str, cluster: Path | None = None
    ) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            *self.args(command, *extra, cluster=cluster),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "COLUMNS": "250"},
        )

    async def run(
        self, command: str, *extra: str, cluster: Path | None = None
    ) -> tuple[int, str, str]:
        process = await self.start(command, *extra, cluster=cluster)
        out, err = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT)
        assert process.returncode is not None
        return process.returncode, out.decode(), err.decode()

    async def status(self) -> tuple[int, dict[str, Any]]:
        code, out, err = await self.run("status", "-o", "json")
        try:
            return code, json.loads(out)
        except ValueError:
            raise AssertionError(f"status printed no JSON (exit {code}): {out}{err}") from None


async def wait_for(probe: Callable[[], Awaitable[bool]], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await probe():
            return
        await asyncio.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


async def create_etcd(
    setup: EtcdFleet, *extra: str, cluster: Path | None = None
) -> tuple[int, str, str]:
    """``kubexms create cluster --only etcd``: the etcd phase and what it depends on."""
    return await setup.made.run(*extra, cluster=cluster)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def etcd_fleet(
    fleet_pool: HostPool, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[EtcdFleet]:
    """A 3-member etcd made by the etcd phase, with scheduled backups configured."""
    directory = tmp_path_factory.mktemp("etcd-ops")
    async with etcd_cluster(fleet_pool, directory, __name__) as made:
        document = yaml.safe_load(made.cluster.read_text())
        document["spec"]["etcd"]["dataDir"] = DATA_DIR
        document["spec"]["etcd"]["backup"] = {
            "schedule": "*-*-* 03:00:00",
            "keep": 2,
            "dir": BACKUP_DIR,
        }
        made.cluster.write_text(yaml.safe_dump(document))
        setup = EtcdFleet(
            made.fleet, made.hosts, made.cluster, load_config(made.cluster), made.work, made
        )
        try:
            code, out, err = await create_etcd(setup, "-o", "json")
            assert code == 0, out + err
            yield setup
        finally:
            for host in made.hosts:  # what the etcd phase's clean-up does not know of
                await made.fleet.host_exec(
                    host,
                    "systemctl disable --now kubexms-etcd-backup.timer; "
                    f"rm -rf {DATA_DIR}.kubexms-* {BACKUP_DIR} /usr/local/bin/kubexms-etcd-backup "
                    "/var/lib/kubexms/etcd-restore /etc/systemd/system/kubexms-etcd-backup.*; "
                    "systemctl daemon-reload",
                )


async def test_status_lists_every_member_healthy(etcd_fleet: EtcdFleet) -> None:
    code, document = await etcd_fleet.status()
    assert code == 0, document
    rows = document["members"]
    assert [row["name"] for row in rows] == etcd_fleet.hosts
    assert all(row["healthy"] for row in rows), rows
    assert sum(row["leader"] for row in rows) == 1
    assert {row["version"] for row in rows} == {"3.4.23"}
    assert all(row["dbSize"] > 0 and row["raftIndex"] > 0 for row in rows)
    assert {row["endpoint"] for row in rows} == {m.client_url for m in members(etcd_fleet.cluster)}

    code, out, err = await etcd_fleet.run("status")
    assert code == 0, err
    for host in etcd_fleet.hosts:
        assert host in out

    assert out.count("healthy") == 3
    assert "unhealthy" not in out

    # A worker nobody answers for is no concern of etcd's: only the etcd hosts are reached.
    document = yaml.safe_load(etcd_fleet.cluster_file.read_text())
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = int(probe.getsockname()[1])
    document["spec"]["hosts"].append({"name": "ghost", "address": "127.0.0.1", "port": closed})
    document["spec"]["roleGroups"]["worker"] = ["ghost"]
    ghostly = etcd_fleet.cluster_file.with_name("with-ghost-worker.yaml")
    ghostly.write_text(yaml.safe_dump(document))
    code, out, err = await etcd_fleet.run("status", "-o", "json", cluster=ghostly)
    assert code == 0, err
    assert "ghost" not in err
    assert [row["name"] for row in json.loads(out)["members"]] == etcd_fleet.hosts


async def test_backup_then_restore_brings_deleted_keys_back(etcd_fleet: EtcdFleet) -> None:
    first = etcd_fleet.hosts[0]
    for index in range(5):
        await etcd_fleet.etcdctl(first, f"put /ops/key{index} value{index}")
    backups = etcd_fleet.work / "my-backups"
    code, out, err = await etcd_fleet.run("backup", "--dir", str(backups), "--keep", "2")
    assert code == 0, out + err
    (snapshot,) = sorted(backups.glob(f"{etcd_fleet.cluster.name}-etcd-*.db"))
    record = json.loads(snapshot.with_name(snapshot.name + ".json").read_text())
    assert record["cluster"] == etcd_fleet.cluster.name
    assert record["revision"] > 5
    assert record["totalKeys"] >= 5
    assert record["member"] in etcd_fleet.hosts
    assert record["sha256"] == hashlib.sha256(snapshot.read_bytes()).hexdigest()
    assert f"backup: {snapshot}" in out

    # Two more: --keep 2 leaves the newest two of this cluster, and another cluster's alone.
    foreign = backups / "other-etcd-20200101T000000Z.db"
    foreign.write_bytes(b"not ours")
    # A dry run says what a backup would do, and writes (and prunes) nothing.
    code, out, err = await etcd_fleet.run(
        "backup", "--dir", str(backups), "--keep", "1", "--dry-run", "-o", "json"
    )
    assert code == 0, out + err
    summary = json.loads(out)
    assert summary["outcome"] == "succeeded", summary
    assert "would-change" in err  # the snapshot it would take
    assert f"backup: {backups}" not in out + err
    assert sorted(backups.glob("*.db")) == sorted([snapshot, foreign])
    for _ in range(2):
        await asyncio.sleep(1.1)  # names carry the second
        code, out, err = await etcd_fleet.run("backup", "--dir", str(backups), "--keep", "2")
        assert code == 0, out + err
    kept = sorted(backups.glob(f"{etcd_fleet.cluster.name}-etcd-*.db"))
    assert len(kept) == 2
    assert snapshot not in kept
    assert foreign.exists()
    latest = kept[-1]
    # Nothing is left behind on the hosts.
    for host in etcd_fleet.hosts:
        assert (
            await etcd_fleet.on(host, "ls /var/tmp | grep -c kubexms-etcd || true")
        ).strip() == "0"

    await etcd_fleet.etcdctl(first, "del --prefix /ops/")
    await etcd_fleet.etcdctl(first, "put /ops/after-backup yes")
    assert (await etcd_fleet.etcdctl(first, "get --prefix /ops/ --keys-only")).split() == [
        "/ops/after-backup"
    ]

    # A dry run checks the snapshot, says per member what the restore would do, and changes
    # nothing: etcd keeps running on its data, nothing is staged, moved or recorded.
    code, out, err = await etcd_fleet.run(
        "restore", "--snapshot", str(latest), "--dry-run", "-o", "json"
    )
    assert code == 0, out + err
    assert "matches its recorded sha256" in err
    summary = json.loads(out)
    assert summary["outcome"] == "succeeded", summary
    peers = {member.name: member.peer_url for member in etcd_members(etcd_fleet.cluster)}
    for host in etcd_fleet.hosts:
        changes = summary["hosts"][host]["changes"]
        shown = {node.split("/")[-2]: detail for node, detail in changes.items()}
        assert shown["stop-etcd"] == f"stop {UNIT_NAME} (it is running)", shown
        assert re.fullmatch(
            rf"move {DATA_DIR} to {DATA_DIR}\.kubexms-\d{{8}}T\d{{6}}Z", shown["move-aside"]
        ), shown
        assert f"as member {host} (peer URL {peers[host]})" in shown["restore"], shown
        assert shown["start-etcd"] == f"start {UNIT_NAME}", shown
        assert "stop-api-server" not in shown  # no API server on these hosts
        assert (await etcd_fleet.on(host, f"systemctl is-active {UNIT_NAME}")).strip() == "active"
        assert (await etcd_fleet.on(host, f"ls -d {DATA_DIR}.kubexms-* || true")).strip() == ""
        staged = await etcd_fleet.on(host, "ls /var/lib/kubexms/etcd-restore 2>/dev/null || true")
        assert staged.strip() == ""
    assert not (etcd_fleet.work / "etcd-restore.json").exists()
    assert (await etcd_fleet.etcdctl(first, "get --prefix /ops/ --keys-only")).split() == [
        "/ops/after-backup"
    ]

    # The cluster file with a worker nobody answers for (from the status test): a restore
    # works on the etcd hosts and masters, so it goes ahead.
    ghostly = etcd_fleet.cluster_file.with_name("with-ghost-worker.yaml")
    code, out, err = await etcd_fleet.run(
        "restore", "--snapshot", str(latest), "--yes", cluster=ghostly
    )
    assert code == 0, out + err
    assert "ghost" not in err
    assert "matches its recorded sha256" in err
    assert "restored" in out
    assert "revision" in out
    got = (await etcd_fleet.etcdctl(first, "get --prefix /ops/ --keys-only")).split()
    assert got == [f"/ops/key{index}" for index in range(5)]
    for host in etcd_fleet.hosts:
        aside = (await etcd_fleet.on(host, f"ls -d {DATA_DIR}.kubexms-2*")).split()
        assert len(aside) == 1, aside
        assert (await etcd_fleet.on(host, f"ls {aside[0]}")).split() == ["member"]
        assert (await etcd_fleet.on(host, "ls /var/lib/kubexms/etcd-restore")).strip() == ""
    code, document = await etcd_fleet.status()
    assert code == 0, document
    assert all(row["healthy"] for row in document["members"]), document
    assert not (etcd_fleet.work / "etcd-restore.json").exists()


async def test_a_damaged_snapshot_is_refused_before_anything_stops(
    etcd_fleet: EtcdFleet,
) -> None:
    backups = etcd_fleet.work / "my-backups"
    good = sorted(backups.glob(f"{etcd_fleet.cluster.name}-etcd-*.db"))[-1]
    damaged = backups / "damaged.db"
    damaged.write_bytes(good.read_bytes()[:-100] + b"\0" * 100)
    damaged.with_name("damaged.db.json").write_text(good.with_name(good.name + ".json").read_text())
    code, _, err = await etcd_fleet.run("restore", "--snapshot", str(damaged), "--yes")
    assert code == 1
    assert "does not match the recorded" in err
    code, _, err = await etcd_fleet.run("restore", "--snapshot", str(damaged), "--dry-run")
    assert code == 1
    assert "does not match the recorded" in err  # a dry run checks the snapshot first
    damaged.with_name("damaged.db.json").unlink()
    (backups / "garbage.db").write_bytes(b"this is not a bolt database" * 100)
    code, _, err = await etcd_fleet.run(
        "restore", "--snapshot", str(backups / "garbage.db"), "--yes"
    )
    assert code == 1
    assert "cannot read it" in err
    for host in etcd_fleet.hosts:
        assert (await etcd_fleet.on(host, f"systemctl is-active {UNIT_NAME}")).strip() == "active"
        assert (await etcd_fleet.on(host, "ls /var/lib/kubexms/etcd-restore")).strip() == ""


async def test_an_interrupted_restore_finishes_on_rerun(etcd_fleet: EtcdFleet) -> None:
    first = etcd_fleet.hosts[0]
    latest = sorted((etcd_fleet.work / "my-backups").glob(f"{etcd_fleet.cluster.name}-etcd-*.db"))[
        -1
    ]
    await etcd_fleet.etcdctl(first, "put /ops/doomed yes")
    before = {
        host: set((await etcd_fleet.on(host, f"ls -d {DATA_DIR}.kubexms-2*")).split())
        for host in etcd_fleet.hosts
    }
    process = await etcd_fleet.start(
        "restore", "--snapshot", str(latest), "--yes", "--log-format", "json"
    )
    assert process.stdout is not None
    interrupted = False
    async with asyncio.timeout(RUN_TIMEOUT):
        while line := await process.stdout.readline():
            event = json.loads(line)
            if event.get("event") == "changed" and event.get("node", "").endswith(
                "/move-data-dir-aside"
            ):
                process.send_signal(signal.SIGINT)
                interrupted = True
                break
        await process.communicate()
    assert interrupted
    assert process.returncode != 0
    assert (etcd_fleet.work / "etcd-restore.json").exists()
    # Half way: etcd is down somewhere, the cluster does not answer.
    states = [
        (await etcd_fleet.fleet.host_exec(host, f"systemctl is-active {UNIT_NAME}"))[1].strip()
        for host in etcd_fleet.hosts
    ]
    assert "active" not in states or len(set(states)) > 1, states

    code, out, err = await etcd_fleet.run("restore", "--snapshot", str(latest), "--yes")
    assert code == 0, out + err
    assert "continuing the interrupted restore" in err
    got = (await etcd_fleet.etcdctl(first, "get --prefix /ops/ --keys-only")).split()
    assert got == [f"/ops/key{index}" for index in range(5)]
    for host in etcd_fleet.hosts:
        after = set((await etcd_fleet.on(host, f"ls -d {DATA_DIR}.kubexms-2*")).split())
        assert before[host] < after, (before, after)
        assert len(after - before[host]) == 1, (before, after)
    assert not (etcd_fleet.work / "etcd-restore.json").exists()


def changed(summary: str) -> dict[str, int]:
    document = json.loads(summary)
    return {host: counts["changed"] for host, counts in document["hosts"].items()}


async def test_create_cluster_after_the_restores_changes_nothing(etcd_fleet: EtcdFleet) -> None:
    code, out, err = await create_etcd(etcd_fleet, "-o", "json")
    assert code == 0, out + err
    counts = changed(out)
    assert set(etcd_fleet.hosts) <= set(counts), out
    assert set(counts.values()) == {0}, out


async def test_the_backup_timer_writes_a_snapshot_when_started(etcd_fleet: EtcdFleet) -> None:
    host = etcd_fleet.hosts[1]
    # The etcd phase installed it (spec.etcd.backup.schedule is set).
    assert (
        await etcd_fleet.on(host, "systemctl is-enabled kubexms-etcd-backup.timer")
    ).strip() == "enabled"
    assert "03:00:00" in await etcd_fleet.on(host, "systemctl cat kubexms-etcd-backup.timer")
    for _ in range(3):
        await etcd_fleet.on(host, "systemctl start kubexms-etcd-backup.service")
        await asyncio.sleep(1.1)  # names carry the second
    listed = (await etcd_fleet.on(host, f"ls {BACKUP_DIR}")).split()
    snapshots = [name for name in listed if name.endswith(".db")]
    assert len(snapshots) == 2, listed  # keep: 2
    assert all(name.startswith(f"{etcd_fleet.cluster.name}-etcd-{host}-") for name in snapshots)
    assert sorted(listed) == sorted([*snapshots, *(f"{name}.sha256" for name in snapshots)])
    await etcd_fleet.on(host, f"cd {BACKUP_DIR} && sha256sum -c {snapshots[-1]}.sha256")
    status = await etcd_fleet.on(
        host, f"/usr/local/bin/etcdctl snapshot status {BACKUP_DIR}/{snapshots[-1]} -w json"
    )
    assert json.loads(status)["totalKey"] > 0

    # A schedule systemd rejects is refused on the host, and the timer keeps its schedule.
    document = yaml.safe_load(etcd_fleet.cluster_file.read_text())
    document["spec"]["etcd"]["backup"]["schedule"] = "*-*-* 25:00:00"
    bad = etcd_fleet.cluster_file.with_name("bad-schedule.yaml")
    bad.write_text(yaml.safe_dump(document))
    code, out, err = await create_etcd(etcd_fleet, cluster=bad)
    assert code == 1, out + err
    assert "spec.etcd.backup.schedule: systemd rejects '*-*-* 25:00:00'" in out + err
    assert "03:00:00" in await etcd_fleet.on(host, "systemctl cat kubexms-etcd-backup.timer")

    # Without a schedule, the timer goes (the snapshots stay); with it again, it comes back.
    del document["spec"]["etcd"]["backup"]["schedule"]
    unscheduled = etcd_fleet.cluster_file.with_name("no-schedule.yaml")
    unscheduled.write_text(yaml.safe_dump(document))
    code, out, err = await create_etcd(etcd_fleet, "-o", "json", cluster=unscheduled)
    assert code == 0, out + err
    code, _, _ = await etcd_fleet.fleet.host_exec(host, "systemctl cat kubexms-etcd-backup.timer")
    assert code != 0
    assert len((await etcd_fleet.on(host, f"ls {BACKUP_DIR}")).split()) == 4
    code, out, err = await create_etcd(etcd_fleet, "-o", "json")
    assert code == 0, out + err
    assert (
        await etcd_fleet.on(host, "systemctl is-active kubexms-etcd-backup.timer")
    ).strip() == "active"


async def test_a_stopped_member_is_an_unhealthy_row_and_exit_1(etcd_fleet: EtcdFleet) -> None:
    # The first member: the one a backup would otherwise take its snapshot from.
    down, up = etcd_fleet.hosts[0], etcd_fleet.hosts[1]
    await etcd_fleet.on(down, f"systemctl stop {UNIT_NAME}")
    try:

        async def others_agree() -> bool:
            code, _, _ = await etcd_fleet.fleet.host_exec(
                up, etcdctl_command("endpoint health --command-timeout=2s")
            )
            return code == 0

        await wait_for(others_agree, "the other two members to elect a leader")
        code, document = await etcd_fleet.status()
        assert code == 1
        rows = {row["name"]: row for row in document["members"]}
        assert not rows[down]["healthy"]
        assert rows[down]["error"]
        assert rows[down]["version"] is None
        assert all(rows[host]["healthy"] for host in etcd_fleet.hosts[1:])
        assert document["healthy"] is False
        code, out, err = await etcd_fleet.run("status")
        assert code == 1
        assert "unhealthy" in out
        assert down in err
        # A backup needs one healthy member, and takes it from one.
        backups = etcd_fleet.work / "while-down"
        code, out, err = await etcd_fleet.run("backup", "--dir", str(backups), "-o", "json")
        assert code == 0, out + err
        assert json.loads(out)["outcome"] == "succeeded"  # stdout: the run's one document
        (record,) = backups.glob("*.db.json")
        assert f"backup: {record.with_suffix('')}" in err
        assert json.loads(record.read_text())["member"] != down
    finally:
        await etcd_fleet.on(down, f"systemctl start {UNIT_NAME}")
