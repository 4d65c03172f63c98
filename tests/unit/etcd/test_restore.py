"""The restore plan: order, hosts, parameters; the pending-restore record; local checks."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

import pytest

from kubexms.config import Cluster, parse_config
from kubexms.engine import PlanError
from kubexms.etcd._backup import BackupError, record_path
from kubexms.etcd._restore import PendingRestore, RestorePipeline, check_local_snapshot
from kubexms.etcd._restore_steps import (
    RestoreDataDir,
    aside_path,
    marker_path,
    staged_path,
)
from tests.unit.config.sample import base, to_yaml

SHA = "a" * 64


def sample_cluster(etcd: dict[str, object] | None = None) -> Cluster:
    data = base()
    data["spec"]["roleGroups"] = {
        "master": ["node1"],
        "etcd": ["node1", "node2", "node3"],
        "worker": ["node2", "node3"],
    }
    if etcd is not None:
        data["spec"]["etcd"] = etcd
    return parse_config(to_yaml(data))


def test_the_restore_stops_everything_before_replacing_any_data() -> None:
    graph = RestorePipeline(Path("/backups/s.db"), SHA, "20261201T110000Z").plan(sample_cluster())
    tasks = [node.parts[2] + "/" + node.parts[3] for node in graph.nodes.values()]
    assert tasks == [
        "stage/stage-snapshot",
        "stage/verify-snapshot",
        "stop-api-server/stop",
        "stop-etcd/stop",
        "move-aside/move-data-dir-aside",
        "restore/restore-data-dir",
        "start-etcd/start",
        "wait-healthy/wait-healthy",
        "start-api-server/start",
        "clean-up/remove-staged-snapshot",
    ]
    nodes = {node.parts[2]: node for node in graph.nodes.values()}
    assert nodes["stop-api-server"].hosts == ("node1",)
    assert nodes["restore"].hosts == ("node1", "node2", "node3")
    assert nodes["wait-healthy"].hosts == ("node1",)
    # Each task waits for the one before it: nothing is replaced while a member still runs.
    ids = list(graph.nodes)
    for before, after in itertools.pairwise(ids):
        assert before in graph.dependencies[after]


def test_each_member_is_restored_with_its_own_name_and_peer_url() -> None:
    cluster = sample_cluster({"dataDir": "/data/etcd"})
    graph = RestorePipeline(Path("/b/s.db"), SHA, "20261201T110000Z").plan(cluster)
    (step,) = [n.step for n in graph.nodes.values() if isinstance(n.step, RestoreDataDir)]
    assert isinstance(step, RestoreDataDir)
    assert step.params()["token"] == "kubexms-demo"
    script = step.script("node2")
    assert "--name node2" in script
    assert "--initial-advertise-peer-urls https://10.213.0.12:2380" in script
    assert "node1=https://10.213.0.11:2380,node2=https://10.213.0.12:2380" in script
    assert "/data/etcd.kubexms-restoring" in script
    assert "rm -rf" not in script.replace('rm -rf -- "$b"', "")  # only our own temp dir
    with pytest.raises(KeyError):
        step.peer_url("node9")


def test_restore_paths_are_derived_from_the_data_dir_and_the_restore() -> None:
    assert aside_path("/var/lib/etcd", "20261201T110000Z") == (
        "/var/lib/etcd.kubexms-20261201T110000Z"
    )
    assert marker_path("/var/lib/etcd") == "/var/lib/etcd.kubexms-restore.json"
    assert staged_path(SHA) == f"/var/lib/kubexms/etcd-restore/{SHA}.db"


def test_only_kubexms_run_etcd_is_restored() -> None:
    cluster = sample_cluster(
        {"type": "external", "external": {"endpoints": ["https://10.0.0.9:2379"]}}
    )
    with pytest.raises(PlanError, match="restores only the etcd it installs"):
        RestorePipeline(Path("/b/s.db"), SHA, "x").plan(cluster)


def test_a_pending_restore_is_remembered_until_cleared(tmp_path: Path) -> None:
    assert PendingRestore.read(tmp_path) is None
    PendingRestore("20261201T110000Z", SHA, "/b/s.db").write(tmp_path)
    assert PendingRestore.read(tmp_path) == PendingRestore("20261201T110000Z", SHA, "/b/s.db")
    PendingRestore.clear(tmp_path)
    assert PendingRestore.read(tmp_path) is None


def test_a_damaged_snapshot_is_refused_before_any_host_is_touched(tmp_path: Path) -> None:
    snapshot = tmp_path / "demo-etcd-20261201T110000Z.db"
    with pytest.raises(BackupError, match="no such snapshot"):
        check_local_snapshot(snapshot)
    snapshot.write_bytes(b"snapshot bytes")
    assert check_local_snapshot(snapshot) == (hashlib.sha256(b"snapshot bytes").hexdigest(), False)
    record_path(snapshot).write_text(
        '{"cluster": "demo", "file": "x", "member": "node1", "endpoint": "e", '
        f'"sha256": "{SHA}", "revision": 1, "totalKeys": 1, "totalSize": 1, "hash": 1, '
        '"created": "now"}'
    )
    with pytest.raises(BackupError, match="does not match the recorded"):
        check_local_snapshot(snapshot)
