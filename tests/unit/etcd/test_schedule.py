"""Scheduled backups: the files placed on each etcd host, and the schedule checks."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from kubexms.etcd._schedule import (
    SCRIPT_PATH,
    SERVICE_PATH,
    TIMER_PATH,
    BackupSchedule,
    InstallBackupTimer,
    RemoveBackupTimer,
    ValidateBackupSchedule,
    backup_schedule_task,
    schedule_looks_valid,
)
from tests.unit.etcd.test_restore import sample_cluster


@pytest.mark.parametrize(
    "schedule",
    ["daily", "hourly", "*-*-* 02:00:00", "Mon..Fri 22:30", "*:0/15", "Sat *-*-1..7 4:00"],
)
def test_documented_calendar_shapes_pass_the_offline_check(schedule: str) -> None:
    assert schedule_looks_valid(schedule)


@pytest.mark.parametrize("schedule", ["every day", "rm -rf /", "daily; reboot", "02:00 $(x)"])
def test_other_text_fails_the_offline_check(schedule: str) -> None:
    assert not schedule_looks_valid(schedule)


def test_no_schedule_means_the_timer_is_removed() -> None:
    task = backup_schedule_task(sample_cluster())
    assert [type(step) for step in task.steps] == [RemoveBackupTimer]


def test_a_schedule_is_checked_then_installed_on_the_etcd_hosts() -> None:
    cluster = sample_cluster(
        {"backup": {"schedule": "*-*-* 02:00:00", "keep": 3, "dir": "/srv/etcd backups"}}
    )
    task = backup_schedule_task(cluster)
    assert task.hosts.describe() == "role etcd"
    check, install = task.steps
    assert isinstance(check, ValidateBackupSchedule)
    assert check.schedule == "*-*-* 02:00:00"
    assert isinstance(install, InstallBackupTimer)
    files = install.backup.files("node2")
    assert set(files) == {SCRIPT_PATH, SERVICE_PATH, TIMER_PATH}
    assert "OnCalendar=*-*-* 02:00:00\n" in files[TIMER_PATH]
    assert f"ExecStart={SCRIPT_PATH}\n" in files[SERVICE_PATH]
    script = files[SCRIPT_PATH]
    assert "dir='/srv/etcd backups'" in script
    assert "prefix=demo-etcd-node2" in script
    assert "keep=3" in script
    assert ". /etc/etcd/etcdctl.env" in script


def test_the_backup_script_is_valid_sh(tmp_path: Path) -> None:
    backup = BackupSchedule("demo", "daily", 2, "/var/backups/etcd")
    script = tmp_path / "backup.sh"
    script.write_text(backup.files("node1")[SCRIPT_PATH])
    subprocess.run(["sh", "-n", str(script)], check=True)
