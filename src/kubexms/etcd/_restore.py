"""``kubexms etcd restore``: every member rebuilt from one snapshot, as one resumable pipeline.

Order: stage the snapshot on every etcd host and let etcd read it there (nothing is stopped
before the snapshot is known good); stop the API server (the hook: where its unit exists) and
etcd everywhere; move each data dir aside; restore each member with its own name and peer URL
and the cluster's initial-cluster and token (so member and cluster ids stay what they were);
start etcd on every member at once (a member waits for quorum); wait until all are healthy;
start the API server again; remove the staged copies.

The restore id (a UTC time stamp, which also names the data dirs kept aside) is recorded on
the control machine (``<workDir>/etcd-restore.json``) until the restore has finished, so a
rerun after an interruption continues the same restore instead of starting another.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from kubexms.engine import FirstOf, Module, Pipeline, PlanContext, Roles, Task
from kubexms.etcd._backup import BackupError, expected_sha256, file_sha256
from kubexms.etcd._layout import UNIT_NAME, cluster_token, initial_cluster
from kubexms.etcd._layout import members as etcd_members
from kubexms.etcd._restore_steps import (
    API_SERVER_UNIT,
    MoveDataDirAside,
    RemoveStagedSnapshot,
    RestoreDataDir,
    StageSnapshot,
    StartUnit,
    StopUnit,
    VerifyStagedSnapshot,
    WaitForClusterHealth,
    staged_path,
)
from kubexms.etcd._status import last_error_line, snapshot_tool
from kubexms.runner._script import quote
from kubexms.runtime import ClusterRuntime

PENDING_FILE = "etcd-restore.json"


@dataclass(frozen=True, slots=True)
class PendingRestore:
    """A restore that was started and has not finished (kept in the work dir)."""

    restore_id: str
    sha256: str
    snapshot: str

    @staticmethod
    def path(work_dir: Path) -> Path:
        return work_dir / PENDING_FILE

    @classmethod
    def read(cls, work_dir: Path) -> PendingRestore | None:
        path = cls.path(work_dir)
        try:
            data = json.loads(path.read_text())
            return cls(str(data["restore"]), str(data["sha256"]), str(data["snapshot"]))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def write(self, work_dir: Path) -> None:
        path = self.path(work_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(
            json.dumps(
                {"restore": self.restore_id, "sha256": self.sha256, "snapshot": self.snapshot}
            )
        )
        os.replace(temporary, path)

    @classmethod
    def clear(cls, work_dir: Path) -> None:
        cls.path(work_dir).unlink(missing_ok=True)


def new_restore_id(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    """What etcd's ``snapshot status`` says about a snapshot, and its sha256."""

    sha256: str
    revision: int
    total_keys: int
    total_size: int
    recorded_sha256: bool


def check_local_snapshot(snapshot: Path) -> tuple[str, bool]:
    """The snapshot's sha256, checked against the sidecar when there is one.

    Returns (sha256, whether a sidecar vouched for it); BackupError on a mismatch."""
    if not snapshot.is_file():
        raise BackupError(f"{snapshot}: no such snapshot file")
    actual = file_sha256(snapshot)
    expected = expected_sha256(snapshot)
    if expected is not None and expected != actual:
        raise BackupError(
            f"{snapshot}: sha256 {actual} does not match the recorded {expected}; "
            "the file is damaged or not the snapshot that was backed up"
        )
    return actual, expected is not None


async def verify_on_host(runtime: ClusterRuntime, snapshot: Path, sha256: str) -> SnapshotInfo:
    """Stage the snapshot on the first reachable etcd host and have etcd read it there
    (``snapshot status``), before anything is stopped. BackupError if etcd cannot."""
    members = [m for m in etcd_members(runtime.config) if m.name in runtime.inventory]
    if not members:
        raise BackupError("no etcd host can be reached to check the snapshot on")
    host = runtime.inventory[members[0].name]
    runner = host.runner
    await runner.files.mkdir(staged_path(sha256).rsplit("/", 1)[0], mode=0o700)
    await runner.files.upload(snapshot, staged_path(sha256), mode=0o600)
    if await runner.files.sha256(staged_path(sha256)) != sha256:
        raise BackupError(f"{host.name}: the snapshot arrived damaged (sha256 differs)")
    result = await runner.script(
        snapshot_tool(f"snapshot status {quote(staged_path(sha256))} -w json"), check=False
    )
    if not result.ok:
        await runner.files.remove(staged_path(sha256))  # nothing of a refused file stays
        raise BackupError(
            f"{snapshot}: etcd on {host.name} cannot read it: {last_error_line(result.stderr)}"
        )
    try:
        status = json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise BackupError(f"{snapshot}: etcd's snapshot status said {result.stdout!r}") from None
    return SnapshotInfo(
        sha256=sha256,
        revision=int(status.get("revision", 0)),
        total_keys=int(status.get("totalKey", 0)),
        total_size=int(status.get("totalSize", 0)),
        recorded_sha256=False,
    )


async def unstage(runtime: ClusterRuntime, sha256: str) -> None:
    """Remove staged copies (after the user declined), wherever a host is reachable."""
    for member in etcd_members(runtime.config):
        if member.name in runtime.inventory:
            await runtime.inventory[member.name].runner.files.remove(staged_path(sha256))


class RestorePipeline(Pipeline):
    """``kubexms etcd restore``: see the module docstring for the order and why."""

    name = "etcd-restore"

    def __init__(self, snapshot: Path, sha256: str, restore_id: str) -> None:
        super().__init__()
        self.snapshot = snapshot
        self.sha256 = sha256
        self.restore_id = restore_id

    def modules(self, ctx: PlanContext) -> Sequence[Module]:
        config = ctx.config
        if config.spec.etcd.type != "kubexm":
            raise BackupError(
                f"spec.etcd.type is {config.spec.etcd.type}: kubexms restores only the etcd it "
                "installs (type kubexm)"
            )
        data_dir = str(config.spec.etcd.data_dir)
        endpoints = tuple(member.client_url for member in etcd_members(config))
        etcd = Roles("etcd")
        restore = RestoreDataDir(
            data_dir, self.restore_id, self.sha256, initial_cluster(config), cluster_token(config)
        )
        tasks = [
            Task(
                "stage",
                [
                    StageSnapshot(str(self.snapshot), self.sha256),
                    VerifyStagedSnapshot(self.sha256),
                ],
                etcd,
            ),
            Task(
                "stop-api-server",
                [StopUnit(API_SERVER_UNIT, data_dir, self.restore_id)],
                Roles("master"),
            ),
            Task("stop-etcd", [StopUnit(UNIT_NAME, data_dir, self.restore_id)], etcd),
            Task("move-aside", [MoveDataDirAside(data_dir, self.restore_id)], etcd),
            Task("restore", [restore], etcd),
            Task("start-etcd", [StartUnit(UNIT_NAME, False, data_dir, self.restore_id)], etcd),
            Task(
                "wait-healthy",
                [WaitForClusterHealth(endpoints)],
                FirstOf("etcd"),
            ),
            Task(
                "start-api-server",
                [StartUnit(API_SERVER_UNIT, only_if_enabled=True)],
                Roles("master"),
            ),
            Task("clean-up", [RemoveStagedSnapshot(self.sha256)], etcd),
        ]
        return [Module("restore", tasks)]
