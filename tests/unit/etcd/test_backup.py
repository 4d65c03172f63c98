"""Backups on the control machine: names, records, and pruning only this cluster's."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import pytest

from kubexms.engine import CONTROL_HOST
from kubexms.etcd._backup import (
    BackupError,
    BackupPipeline,
    BackupRecord,
    PruneBackups,
    backup_file_name,
    backup_stamp,
    cluster_backups,
    expected_sha256,
    prune_backups,
    record_path,
)
from kubexms.runtime import Context
from tests.unit.etcd.test_restore import sample_cluster


def _backup(directory: Path, cluster: str, stamp: str, record_cluster: str | None = None) -> Path:
    path = directory / backup_file_name(cluster, stamp)
    path.write_bytes(stamp.encode())
    record = BackupRecord(
        cluster=record_cluster or cluster,
        file=path.name,
        member="node1",
        endpoint="https://10.0.0.1:2379",
        sha256=hashlib.sha256(stamp.encode()).hexdigest(),
        revision=7,
        total_keys=3,
        total_size=20480,
        hash=1,
        created="2026-12-01T11:00:00+00:00",
    )
    record_path(path).write_text(record.as_json())
    return path


def test_names_sort_in_time_order() -> None:
    stamp = backup_stamp(datetime(2026, 12, 1, 9, 5, 7, tzinfo=UTC))
    assert stamp == "20261201T090507Z"
    assert backup_file_name("demo", stamp) == "demo-etcd-20261201T090507Z.db"


def test_records_round_trip_and_vouch_for_the_file(tmp_path: Path) -> None:
    path = _backup(tmp_path, "demo", "20261201T090000Z")
    assert expected_sha256(path) == hashlib.sha256(b"20261201T090000Z").hexdigest()
    assert BackupRecord.from_json(record_path(path).read_text()).revision == 7


def test_a_sha256sum_sidecar_also_vouches(tmp_path: Path) -> None:
    path = tmp_path / "demo-etcd-node1-20261201T090000Z.db"
    path.write_bytes(b"x")
    assert expected_sha256(path) is None
    digest = hashlib.sha256(b"x").hexdigest()
    (tmp_path / (path.name + ".sha256")).write_text(f"{digest}  {path.name}\n")
    assert expected_sha256(path) == digest
    (tmp_path / (path.name + ".sha256")).write_text("garbage\n")
    with pytest.raises(BackupError, match="does not start with a sha256"):
        expected_sha256(path)


def test_an_unreadable_record_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "demo-etcd-20261201T090000Z.db"
    path.write_bytes(b"x")
    record_path(path).write_text("{not json")
    with pytest.raises(BackupError, match="not a kubexms backup record"):
        expected_sha256(path)


def test_keep_prunes_only_this_clusters_oldest(tmp_path: Path) -> None:
    ours = [_backup(tmp_path, "demo", f"2026120{day}T090000Z") for day in range(1, 6)]
    theirs = _backup(tmp_path, "demo-two", "20261101T090000Z")
    # Named like ours but recorded as another cluster's: not ours to delete.
    borrowed = _backup(tmp_path, "demo", "20261001T090000Z", record_cluster="other")
    unrelated = tmp_path / "notes.txt"
    unrelated.write_text("keep me")
    assert cluster_backups(tmp_path, "demo") == ours
    assert prune_backups(tmp_path, "demo", 2, check=True) == ours[:3]
    assert all(path.exists() for path in ours)
    assert prune_backups(tmp_path, "demo", 2) == ours[:3]
    assert [path.exists() for path in ours] == [False, False, False, True, True]
    assert not record_path(ours[0]).exists()
    assert theirs.exists()
    assert borrowed.exists()
    assert unrelated.exists()
    assert prune_backups(tmp_path, "demo", 2) == []


def test_the_backup_plan_runs_on_the_control_machine(tmp_path: Path) -> None:
    graph = BackupPipeline(tmp_path, "demo-etcd-x.db", keep=3).plan(sample_cluster())
    assert list(graph.nodes) == [
        "etcd-backup/backup/snapshot/save-snapshot",
        "etcd-backup/backup/snapshot/prune-backups",
    ]
    assert all(node.hosts == (CONTROL_HOST,) for node in graph.nodes.values())
    without_keep = BackupPipeline(tmp_path, "demo-etcd-x.db", keep=None).plan(sample_cluster())
    assert len(without_keep.nodes) == 1


async def test_the_prune_precheck_names_the_backups_it_would_delete(tmp_path: Path) -> None:
    ours = [_backup(tmp_path, "demo", f"2026120{day}T090000Z") for day in range(1, 4)]
    step = PruneBackups(str(tmp_path), "demo", 1)
    change = await step.precheck(cast(Context, None))  # works on this machine's files only
    assert change.changed
    assert change.detail == f"{ours[0].name}, {ours[1].name}"
    assert all(path.exists() for path in ours)  # a check deletes nothing
    assert not (await PruneBackups(str(tmp_path), "demo", 3).precheck(cast(Context, None))).changed
