"""`kubexms etcd status | backup | restore` and scheduled backups on a real 3-member TLS etcd.

etcd 3.4 comes from Debian's packages in etcd's release layout
(tests/fixtures/artifacts/etcd_release.py); the certificates from ``generate_pki``. The cluster
is set up on three systemd hosts the way the etcd phase lays it out (kubexms.etcd._layout):
binaries in /usr/local/bin, certificates under /etc/kubernetes/pki/etcd, one environment file,
etcd.service. The tests run in order and build on each other: status, backup, restore, an
interrupted restore finished by a rerun, the backup timer, and a stopped member.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import signal
import sys
import tarfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml

from kubexms.config import Cluster, load_config
from kubexms.engine import Engine, EngineOptions, Module, Pipeline, RunResult
from kubexms.etcd import (
    CONFIG_FILE,
    ETCDCTL_ENV,
    UNIT_NAME,
    etcdctl_command,
    members,
    pki_files,
)
from kubexms.etcd._layout import etcdctl_environment, render_environment
from kubexms.etcd._schedule import backup_schedule_task
from kubexms.pki import generate_pki
from kubexms.runtime import new_runtime
from kubexms.sandbox import Fleet
from tests.fixtures.artifacts.etcd_release import (
    EtcdReleaseUnavailableError,
    build_etcd_release,
)
from tests.leasing import HostPool

pytestmark = pytest.mark.fleet

RUN_TIMEOUT = 600.0
DATA_DIR = "/var/lib/etcd"
BACKUP_DIR = "/var/backups/etcd"

UNIT = """[Unit]
Description=etcd (set up by the etcd ops tests the way the etcd phase does)
After=network-online.target

[Service]
Type=notify
EnvironmentFile={config}
ExecStart=/usr/local/bin/etcd
Restart=always
RestartSec=5s
TimeoutStartSec=300

[Install]
WantedBy=multi-user.target
"""


@dataclass
class EtcdFleet:
    fleet: Fleet
    hosts: list[str]
    cluster_file: Path
    cluster: Cluster
    work: Path

    async def on(self, host: str, command: str) -> str:
        code, out, err = await self.fleet.host_exec(host, command)
        assert code == 0, f"{host}: {command!r} exited {code}: {out}{err}"
        return out

    async def etcdctl(self, host: str, arguments: str) -> str:
        return await self.on(host, etcdctl_command(arguments))

    def args(self, command: str, *extra: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "kubexms",
            "etcd",
            command,
            "-f",
            str(self.cluster_file),
            *extra,
        ]

    async def start(self, command: str, *extra: str) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            *self.args(command, *extra),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "COLUMNS": "250"},
        )

    async def run(self, command: str, *extra: str) -> tuple[int, str, str]:
        process = await self.start(command, *extra)
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


def _tar(files: dict[str, tuple[bytes, int]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, (data, mode) in files.items():
            info = tarfile.TarInfo(name.lstrip("/"))
            info.size, info.mode = len(data), mode
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _member_environment(cluster: Cluster, name: str) -> dict[str, str]:
    member = next(m for m in members(cluster) if m.name == name)
    initial = ",".join(f"{m.name}={m.peer_url}" for m in members(cluster))
    pki = "/etc/kubernetes/pki/etcd"
    return {
        "ETCD_NAME": name,
        "ETCD_DATA_DIR": DATA_DIR,
        "ETCD_LISTEN_CLIENT_URLS": member.listen_client_urls,
        "ETCD_ADVERTISE_CLIENT_URLS": member.client_url,
        "ETCD_LISTEN_PEER_URLS": member.peer_url,
        "ETCD_INITIAL_ADVERTISE_PEER_URLS": member.peer_url,
        "ETCD_INITIAL_CLUSTER": initial,
        "ETCD_INITIAL_CLUSTER_TOKEN": f"kubexms-{cluster.name}",
        "ETCD_INITIAL_CLUSTER_STATE": "new",
        "ETCD_CERT_FILE": f"{pki}/server.crt",
        "ETCD_KEY_FILE": f"{pki}/server.key",
        "ETCD_TRUSTED_CA_FILE": f"{pki}/ca.crt",
        "ETCD_CLIENT_CERT_AUTH": "true",
        "ETCD_PEER_CERT_FILE": f"{pki}/peer.crt",
        "ETCD_PEER_KEY_FILE": f"{pki}/peer.key",
        "ETCD_PEER_TRUSTED_CA_FILE": f"{pki}/ca.crt",
        "ETCD_PEER_CLIENT_CERT_AUTH": "true",
    }


async def _install_etcd(setup: EtcdFleet, release: Path, pki: Path) -> None:
    """Lay etcd out on the hosts as the etcd phase does, start all members, wait for health."""
    with tarfile.open(release) as archive:
        binaries = {
            f"/usr/local/bin/{Path(m.name).name}": (archive.extractfile(m).read(), 0o755)  # type: ignore[union-attr]
            for m in archive.getmembers()
            if m.isfile() and Path(m.name).name in ("etcd", "etcdctl", "etcdutl")
        }
    for host in setup.hosts:
        files = dict(binaries)
        for target, source in pki_files(host).items():
            files[target] = (
                (pki / source).read_bytes(),
                0o600 if target.endswith(".key") else 0o644,
            )
        env = render_environment(_member_environment(setup.cluster, host))
        files[CONFIG_FILE] = (env.encode(), 0o600)
        files[ETCDCTL_ENV] = (render_environment(etcdctl_environment()).encode(), 0o600)
        files[f"/etc/systemd/system/{UNIT_NAME}"] = (
            UNIT.format(config=CONFIG_FILE).encode(),
            0o644,
        )
        code, out, err = await setup.fleet.host_exec(
            host, "tar -x -C / && systemctl daemon-reload", stdin=_tar(files)
        )
        assert code == 0, f"{host}: {out}{err}"
    for host in setup.hosts:
        await setup.on(host, f"systemctl start --no-block {UNIT_NAME}")

    async def healthy() -> bool:
        code, _, _ = await setup.fleet.host_exec(
            setup.hosts[0], etcdctl_command("endpoint health --cluster")
        )
        return code == 0

    await wait_for(healthy, "a healthy 3-member etcd", timeout=90)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def etcd_fleet(
    fleet_pool: HostPool, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[EtcdFleet]:
    with fleet_pool.lease(3, init="systemd", holder=__name__) as leased:
        directory = tmp_path_factory.mktemp("etcd-ops")
        try:
            release = build_etcd_release(directory)
        except EtcdReleaseUnavailableError as error:
            pytest.skip(f"no etcd release to test with: {error}")
        names = leased.names

        def shape(document: dict[str, Any]) -> None:
            document["metadata"]["name"] = "etcd-ops"
            document["spec"]["roleGroups"] = {
                "master": names[:1],
                "etcd": names,
                "worker": names[1:],
            }
            document["spec"]["global"]["workDir"] = str(directory / "work")
            document["spec"]["etcd"] = {
                "dataDir": DATA_DIR,
                "backup": {"schedule": "*-*-* 03:00:00", "keep": 2, "dir": BACKUP_DIR},
            }

        cluster_file = leased.cluster_file(directory, edit=shape, name="cluster.yaml")
        cluster = load_config(cluster_file)
        setup = EtcdFleet(leased.fleet, names, cluster_file, cluster, directory / "work")
        pki = directory / "pki"
        generate_pki(cluster, pki)
        try:
            await _install_etcd(setup, release.path, pki)
            yield setup
        finally:
            for host in names:
                await leased.exec(
                    host,
                    f"systemctl disable --now {UNIT_NAME} kubexms-etcd-backup.timer; "
                    f"rm -rf {DATA_DIR} {DATA_DIR}.kubexms-* {BACKUP_DIR} /etc/etcd "
                    "/etc/kubernetes /usr/local/bin/etcd /usr/local/bin/etcdctl "
                    "/usr/local/bin/kubexms-etcd-backup /var/lib/kubexms/etcd-restore "
                    f"/etc/systemd/system/{UNIT_NAME} /etc/systemd/system/kubexms-etcd-backup.*; "
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


async def test_backup_then_restore_brings_deleted_keys_back(etcd_fleet: EtcdFleet) -> None:
    first = etcd_fleet.hosts[0]
    for index in range(5):
        await etcd_fleet.etcdctl(first, f"put /ops/key{index} value{index}")
    backups = etcd_fleet.work / "my-backups"
    code, out, err = await etcd_fleet.run("backup", "--dir", str(backups), "--keep", "2")
    assert code == 0, out + err
    (snapshot,) = sorted(backups.glob("etcd-ops-etcd-*.db"))
    record = json.loads(snapshot.with_name(snapshot.name + ".json").read_text())
    assert record["cluster"] == "etcd-ops"
    assert record["revision"] > 5
    assert record["totalKeys"] >= 5
    assert record["member"] in etcd_fleet.hosts
    assert record["sha256"] == hashlib.sha256(snapshot.read_bytes()).hexdigest()
    assert f"backup: {snapshot}" in out

    # Two more: --keep 2 leaves the newest two of this cluster, and another cluster's alone.
    foreign = backups / "other-etcd-20200101T000000Z.db"
    foreign.write_bytes(b"not ours")
    for _ in range(2):
        await asyncio.sleep(1.1)  # names carry the second
        code, out, err = await etcd_fleet.run("backup", "--dir", str(backups), "--keep", "2")
        assert code == 0, out + err
    kept = sorted(backups.glob("etcd-ops-etcd-*.db"))
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

    code, out, err = await etcd_fleet.run("restore", "--snapshot", str(latest), "--yes")
    assert code == 0, out + err
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
    good = sorted(backups.glob("etcd-ops-etcd-*.db"))[-1]
    damaged = backups / "damaged.db"
    damaged.write_bytes(good.read_bytes()[:-100] + b"\0" * 100)
    damaged.with_name("damaged.db.json").write_text(good.with_name(good.name + ".json").read_text())
    code, _, err = await etcd_fleet.run("restore", "--snapshot", str(damaged), "--yes")
    assert code == 1
    assert "does not match the recorded" in err
    damaged.with_name("damaged.db.json").unlink()
    (backups / "garbage.db").write_bytes(b"this is not a bolt database" * 100)
    code, _, err = await etcd_fleet.run(
        "restore", "--snapshot", str(backups / "garbage.db"), "--yes"
    )
    assert code == 1
    assert "cannot read it" in err
    for host in etcd_fleet.hosts:
        assert (await etcd_fleet.on(host, f"systemctl is-active {UNIT_NAME}")).strip() == "active"


async def test_an_interrupted_restore_finishes_on_rerun(etcd_fleet: EtcdFleet) -> None:
    first = etcd_fleet.hosts[0]
    latest = sorted((etcd_fleet.work / "my-backups").glob("etcd-ops-etcd-*.db"))[-1]
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


async def _run_schedule_task(
    setup: EtcdFleet, cluster: Cluster | None = None, *, succeed: bool = True
) -> RunResult:
    """The backup-schedule task the etcd phase appends, run through the Engine."""
    cluster = cluster or setup.cluster
    pipeline = Pipeline("etcd-schedule", [Module("etcd", [backup_schedule_task(cluster)])])
    graph = pipeline.plan(cluster)
    async with await new_runtime(cluster) as runtime:
        result = await Engine(runtime, EngineOptions.from_config(cluster)).run(graph)
    assert result.succeeded is succeed, result
    return result


async def test_the_backup_timer_writes_a_snapshot_when_started(etcd_fleet: EtcdFleet) -> None:
    await _run_schedule_task(etcd_fleet)
    host = etcd_fleet.hosts[1]
    assert (
        await etcd_fleet.on(host, "systemctl is-enabled kubexms-etcd-backup.timer")
    ).strip() == ("enabled")
    assert "03:00:00" in await etcd_fleet.on(host, "systemctl cat kubexms-etcd-backup.timer")
    for _ in range(3):
        await etcd_fleet.on(host, "systemctl start kubexms-etcd-backup.service")
        await asyncio.sleep(1.1)
    listed = (await etcd_fleet.on(host, f"ls {BACKUP_DIR}")).split()
    snapshots = [name for name in listed if name.endswith(".db")]
    assert len(snapshots) == 2, listed  # keep: 2
    assert all(name.startswith(f"etcd-ops-etcd-{host}-") for name in snapshots)
    assert sorted(listed) == sorted([*snapshots, *(f"{name}.sha256" for name in snapshots)])
    await etcd_fleet.on(host, f"cd {BACKUP_DIR} && sha256sum -c {snapshots[-1]}.sha256")
    status = await etcd_fleet.on(
        host, f"/usr/local/bin/etcdctl snapshot status {BACKUP_DIR}/{snapshots[-1]} -w json"
    )
    assert json.loads(status)["totalKey"] > 0
    # A schedule systemd rejects is refused on the host, before anything is placed there.
    document = yaml.safe_load(etcd_fleet.cluster_file.read_text())
    document["spec"]["etcd"]["backup"]["schedule"] = "*-*-* 25:00:00"
    bad = etcd_fleet.cluster_file.with_name("bad-schedule.yaml")
    bad.write_text(yaml.safe_dump(document))
    failed = await _run_schedule_task(etcd_fleet, load_config(bad), succeed=False)
    errors = "\n".join(failure.error for failure in failed.failures)
    assert "spec.etcd.backup.schedule: systemd rejects '*-*-* 25:00:00'" in errors
    assert "03:00:00" in await etcd_fleet.on(host, "systemctl cat kubexms-etcd-backup.timer")

    again = await _run_schedule_task(etcd_fleet)
    assert again.counts.get("changed", 0) == 0, again.counts


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
        code, out, err = await etcd_fleet.run("backup", "--dir", str(backups))
        assert code == 0, out + err
        (record,) = backups.glob("*.db.json")
        assert json.loads(record.read_text())["member"] != down
    finally:
        await etcd_fleet.on(down, f"systemctl start {UNIT_NAME}")
