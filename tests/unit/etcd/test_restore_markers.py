"""The restore's on-host bookkeeping, run by a local shell on temporary directories: when a
data dir counts as "already this restore's", and moving data dirs aside never overwrites."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from kubexms.etcd._restore_steps import (
    aside_name_script,
    aside_path,
    marker_path,
    move_aside_script,
    restored_test,
)

RESTORE = "20261201T110000Z"


def _sh(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=False)


def _mark(data_dir: Path, restore: str, inode: int) -> None:
    record = {"restore": restore, "snapshot": "a" * 64, "member": "node1", "inode": inode}
    Path(marker_path(str(data_dir))).write_text(json.dumps(record) + "\n")


def test_a_data_dir_is_this_restores_only_when_the_marker_names_it_and_its_inode(
    tmp_path: Path,
) -> None:
    data = tmp_path / "etcd"
    restored = restored_test(str(data), RESTORE)
    assert _sh(restored).returncode != 0  # nothing there
    data.mkdir()
    assert _sh(restored).returncode != 0  # no marker
    _mark(data, RESTORE, os.stat(data).st_ino)
    assert _sh(restored).returncode == 0
    assert _sh(restored_test(str(data), "20261201T120000Z")).returncode != 0  # another restore
    # The marker was written, but the directory in place is another one (interrupted before
    # the rename, and something put a directory there since).
    data.rename(tmp_path / "elsewhere")
    data.mkdir()
    assert _sh(restored).returncode != 0


def test_moving_aside_never_overwrites_and_never_deletes(tmp_path: Path) -> None:
    data = tmp_path / "etcd"
    script = "set -e\n" + move_aside_script(str(data), RESTORE)
    assert _sh(script).stdout == ""  # nothing to move
    for generation in ("first", "second", "third"):
        data.mkdir()
        (data / "generation").write_text(generation)
        assert _sh(script).returncode == 0
        assert not data.exists()
    aside = Path(aside_path(str(data), RESTORE))
    kept = {
        path.name: (path / "generation").read_text()
        for path in tmp_path.iterdir()
        if path.name.startswith(aside.name)
    }
    assert kept == {
        aside.name: "first",
        f"{aside.name}-2": "second",
        f"{aside.name}-3": "third",
    }


def test_the_name_a_dry_run_shows_is_the_one_the_move_takes_and_it_moves_nothing(
    tmp_path: Path,
) -> None:
    data = tmp_path / "etcd"
    probe = aside_name_script(str(data), RESTORE)
    assert _sh(probe).stdout == ""  # no data dir: nothing would be kept
    aside = Path(aside_path(str(data), RESTORE))
    aside.mkdir()  # an earlier restore of the same id took the plain name
    data.mkdir()
    (data / "generation").write_text("current")
    shown = _sh(probe).stdout
    assert shown == f"@kxms:aside {aside}-2\n"
    assert (data / "generation").read_text() == "current"  # the probe moved nothing
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["etcd", aside.name])
    assert _sh("set -e\n" + move_aside_script(str(data), RESTORE)).stdout == shown
    assert (Path(f"{aside}-2") / "generation").read_text() == "current"


def test_hostile_paths_stay_data(tmp_path: Path) -> None:
    data = tmp_path / "etcd $(touch pwned) 'x'"
    data.mkdir()
    assert _sh("set -e\n" + move_aside_script(str(data), RESTORE)).returncode == 0
    assert Path(aside_path(str(data), RESTORE)).is_dir()
    assert not (Path.cwd() / "pwned").exists()
    assert _sh(restored_test(str(data), RESTORE)).returncode != 0
