"""EtcdDataDir on this machine's shell: created 0700; this cluster's data kept; another's
refused and left untouched."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kubexms.etcd._cluster_id import format_id
from kubexms.etcd._steps import EtcdDataDir, ForeignDataError
from kubexms.runtime import Context
from tests.unit.etcd.test_cluster_id import WAL_HEAD
from tests.unit.steps.local import local_cluster, local_context

OURS = format_id(3522046201885188093)  # the cluster WAL_HEAD was written by


@pytest.fixture
async def ctx(tmp_path: Path) -> Context:
    _, context = await local_context(local_cluster(tmp_path / "work"))
    return context


def _wal(directory: Path, head: bytes = WAL_HEAD) -> Path:
    wal = directory / "member" / "wal"
    wal.mkdir(parents=True)
    path = wal / "0000000000000000-0000000000000000.wal"
    path.write_bytes(head + b"\0" * 64)
    return path


async def test_created_with_mode_0700_then_unchanged(ctx: Context, tmp_path: Path) -> None:
    step = EtcdDataDir(str(tmp_path / "etcd"), OURS)
    pending = await step.precheck(ctx)
    assert pending.changed
    assert "create" in pending.detail
    await step.run(ctx)
    assert (tmp_path / "etcd").stat().st_mode & 0o777 == 0o700
    assert not (await step.precheck(ctx)).changed
    os.chmod(tmp_path / "etcd", 0o711)  # noqa: S103 - a mode the step must put right
    assert "chmod" in (await step.precheck(ctx)).detail
    await step.run(ctx)
    assert (tmp_path / "etcd").stat().st_mode & 0o777 == 0o700


async def test_this_clusters_data_is_kept(ctx: Context, tmp_path: Path) -> None:
    directory = tmp_path / "etcd"
    directory.mkdir(mode=0o700)
    _wal(directory)
    assert not (await EtcdDataDir(str(directory), OURS).precheck(ctx)).changed


async def test_another_clusters_data_is_refused_and_untouched(ctx: Context, tmp_path: Path) -> None:
    directory = tmp_path / "etcd"
    directory.mkdir(mode=0o755)
    wal = _wal(directory)
    before = wal.read_bytes()
    step = EtcdDataDir(str(directory), "1234abcd")
    for attempt in (step.precheck, step.run):
        with pytest.raises(ForeignDataError, match=f"another etcd cluster \\(cluster id {OURS};"):
            await attempt(ctx)
    assert wal.read_bytes() == before
    assert directory.stat().st_mode & 0o777 == 0o755  # not even its mode was touched


async def test_unreadable_data_is_refused(ctx: Context, tmp_path: Path) -> None:
    directory = tmp_path / "etcd"
    _wal(directory, b"garbage")
    with pytest.raises(ForeignDataError, match="cannot be read"):
        await EtcdDataDir(str(directory), OURS).precheck(ctx)
    (directory / "member" / "wal" / "0000000000000000-0000000000000000.wal").unlink()
    with pytest.raises(ForeignDataError, match="without a write-ahead log"):
        await EtcdDataDir(str(directory), OURS).precheck(ctx)
