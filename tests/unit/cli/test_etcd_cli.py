"""``kubexms etcd``: bad input is refused with a clear message before any host is contacted.

The hosts of the cluster file below do not exist: every case must end before connecting.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from tests.unit.config.sample import base


def _kubexms(*args: str) -> tuple[int, str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "kubexms", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def _cluster(tmp_path: Path, etcd: dict[str, object] | None = None) -> Path:
    data = base()
    data["spec"]["global"]["workDir"] = str(tmp_path / "work")
    if etcd is not None:
        data["spec"]["etcd"] = etcd
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_external_etcd_is_not_ours_to_operate(tmp_path: Path) -> None:
    cluster = _cluster(
        tmp_path, {"type": "external", "external": {"endpoints": ["https://10.0.0.9:2379"]}}
    )
    for command in ("status", "backup"):
        code, out, err = _kubexms("etcd", command, "-f", str(cluster))
        assert code == 1, out
        assert "spec.etcd.type: kubexm" in err
        assert "Traceback" not in err


def test_restore_refuses_a_missing_or_damaged_snapshot_first(tmp_path: Path) -> None:
    cluster = _cluster(tmp_path)
    missing = tmp_path / "nothing.db"
    code, _, err = _kubexms("etcd", "restore", "-f", str(cluster), "--snapshot", str(missing))
    assert code == 1
    assert f"{missing}: no such snapshot file" in err
    damaged = tmp_path / "demo-etcd-20261201T110000Z.db"
    damaged.write_bytes(b"bytes")
    (tmp_path / f"{damaged.name}.sha256").write_text(f"{'0' * 64}  {damaged.name}\n")
    code, _, err = _kubexms("etcd", "restore", "-f", str(cluster), "--snapshot", str(damaged))
    assert code == 1
    assert "does not match the recorded" in err
    assert "Traceback" not in err
    assert not (tmp_path / "work" / "etcd-restore.json").exists()


def test_keep_must_be_positive(tmp_path: Path) -> None:
    code, _, err = _kubexms("etcd", "backup", "-f", str(_cluster(tmp_path)), "--keep", "0")
    assert code == 2
    assert "--keep" in err
