"""``kubexms etcd backup``: a snapshot from a healthy member, kept on the control machine.

The snapshot is saved on the member's host into a private temporary directory, fetched, and
checked against the sha256 computed on the host; only then does it get its final name, with a
JSON record beside it (``<name>.db.json``: cluster, member, sha256, and ``snapshot status``'s
revision, keys and size). Names carry the cluster and a UTC time stamp, so one directory can
hold several clusters' backups and ``--keep`` prunes only this cluster's.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubexms._errors import KubexmsError
from kubexms.engine import ControlMachine, Module, Pipeline, PlanContext, Step, Task
from kubexms.etcd._layout import EtcdMember
from kubexms.etcd._layout import members as etcd_members
from kubexms.etcd._status import cluster_status, etcdctl, snapshot_tool
from kubexms.runner import Change, Runner
from kubexms.runner._script import markers, quote
from kubexms.runtime import Context

RECORD_SUFFIX = ".json"
SHA256_SUFFIX = ".sha256"
_STAMP = "%Y%m%dT%H%M%SZ"
_REMOTE_TEMP = "/var/tmp/kubexms-etcd-snapshot."
SNAPSHOT_TIMEOUT = 600.0


class BackupError(KubexmsError):
    """A backup could not be made, read or restored; the message says why."""

    label = "backup error"


def backup_stamp(now: datetime | None = None) -> str:
    """The UTC time stamp in backup names (sorts in time order)."""
    return (now or datetime.now(UTC)).strftime(_STAMP)


def backup_file_name(cluster: str, stamp: str) -> str:
    return f"{cluster}-etcd-{stamp}.db"


def _name_pattern(cluster: str) -> re.Pattern[str]:
    return re.compile(re.escape(cluster) + r"-etcd-(\d{8}T\d{6}Z)(?:-\d+)?\.db")


@dataclass(frozen=True, slots=True)
class BackupRecord:
    """What is recorded beside a snapshot (``<file>.json``)."""

    cluster: str
    file: str
    member: str
    endpoint: str
    sha256: str
    revision: int
    total_keys: int
    total_size: int
    hash: int
    created: str

    def as_json(self) -> str:
        values = asdict(self)
        return json.dumps(
            {
                "cluster": values["cluster"],
                "file": values["file"],
                "member": values["member"],
                "endpoint": values["endpoint"],
                "sha256": values["sha256"],
                "revision": values["revision"],
                "totalKeys": values["total_keys"],
                "totalSize": values["total_size"],
                "hash": values["hash"],
                "created": values["created"],
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> BackupRecord:
        data = json.loads(text)
        return cls(
            cluster=str(data["cluster"]),
            file=str(data["file"]),
            member=str(data["member"]),
            endpoint=str(data["endpoint"]),
            sha256=str(data["sha256"]),
            revision=int(data["revision"]),
            total_keys=int(data["totalKeys"]),
            total_size=int(data["totalSize"]),
            hash=int(data["hash"]),
            created=str(data["created"]),
        )


def record_path(snapshot: Path) -> Path:
    return snapshot.with_name(snapshot.name + RECORD_SUFFIX)


def read_record(snapshot: Path) -> BackupRecord | None:
    """The record beside ``snapshot``; None if there is none; BackupError if unreadable."""
    path = record_path(snapshot)
    if not path.exists():
        return None
    try:
        return BackupRecord.from_json(path.read_text())
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise BackupError(f"{path}: not a kubexms backup record ({error})") from None


def expected_sha256(snapshot: Path) -> str | None:
    """The sha256 recorded beside ``snapshot``: in ``<file>.json`` (kubexms backups) or
    ``<file>.sha256`` (``sha256sum`` format, written by the scheduled backups)."""
    record = read_record(snapshot)
    if record is not None:
        return record.sha256
    sidecar = snapshot.with_name(snapshot.name + SHA256_SUFFIX)
    if sidecar.exists():
        words = sidecar.read_text().split()
        if not words or not re.fullmatch(r"[0-9a-f]{64}", words[0]):
            raise BackupError(f"{sidecar}: does not start with a sha256")
        return words[0]
    return None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def cluster_backups(directory: Path, cluster: str) -> list[Path]:
    """This cluster's snapshots in ``directory``, oldest first: a file counts when its name
    is this cluster's and its record (if any) names this cluster too."""
    if not directory.is_dir():
        return []
    pattern = _name_pattern(cluster)
    found: list[tuple[str, Path]] = []
    for path in directory.iterdir():
        match = pattern.fullmatch(path.name)
        if match is None or not path.is_file():
            continue
        try:
            record = read_record(path)
        except BackupError:
            continue
        if record is None or record.cluster == cluster:
            found.append((match.group(1) + path.name, path))
    return [path for _, path in sorted(found)]


def prune_backups(directory: Path, cluster: str, keep: int, *, check: bool = False) -> list[Path]:
    """Delete all but the newest ``keep`` of this cluster's snapshots (and their records);
    return what was (or, with ``check``, would be) deleted."""
    backups = cluster_backups(directory, cluster)
    doomed = backups[: max(0, len(backups) - keep)]
    if not check:
        for path in doomed:
            for sidecar in (record_path(path), path.with_name(path.name + SHA256_SUFFIX)):
                sidecar.unlink(missing_ok=True)
            path.unlink(missing_ok=True)
    return doomed


def _save_script(member: EtcdMember) -> str:
    saved = '"$d/snapshot.db"'
    save = etcdctl(f"snapshot save {saved}", [member.client_url])
    status = snapshot_tool(f"snapshot status {saved} -w json")
    return "\n".join(
        [
            "set -e",
            f"d=$(mktemp -d {_REMOTE_TEMP}XXXXXX)",
            'echo "@kxms:dir $d"',
            f"{save} >&2",
            f'echo "@kxms:sum $(sha256sum <{saved} | cut -d" " -f1)"',
            f'echo "@kxms:status $({status})"',
        ]
    )


async def _pick_member(ctx: Context) -> EtcdMember:
    runtime = ctx.cluster
    members = etcd_members(runtime.config)
    statuses = await cluster_status(runtime, members)
    for member, status in zip(members, statuses, strict=True):
        if status.healthy and member.name in runtime.inventory:
            return member
    reasons = "; ".join(f"{s.name}: {s.error or 'unhealthy'}" for s in statuses)
    raise BackupError(f"no healthy etcd member to take a snapshot from ({reasons})")


@dataclass(frozen=True)
class SaveSnapshot(Step):
    """A snapshot from the first healthy member, fetched to ``directory/file``."""

    directory: str
    file: str
    cluster: str

    name = "save-snapshot"
    description = "snapshot from a healthy etcd member to {directory}/{file}"
    timeout = SNAPSHOT_TIMEOUT

    @property
    def target(self) -> Path:
        return Path(self.directory) / self.file

    async def precheck(self, ctx: Context) -> bool:
        return self.target.is_file() and record_path(self.target).is_file()

    async def run(self, ctx: Context) -> Change | None:
        member = await _pick_member(ctx)
        runner = ctx.cluster.inventory[member.name].runner
        result = await runner.script(_save_script(member), timeout=SNAPSHOT_TIMEOUT, check=False)
        remote_dir = (markers(result.stdout, "dir") or [""])[0]
        try:
            if not result.ok:
                tail = (result.stderr.strip().splitlines() or ["no output"])[-1]
                raise BackupError(f"{member.name}: etcdctl snapshot save failed: {tail}")
            record = await self._fetch(runner, member, remote_dir, result.stdout)
        finally:
            if remote_dir.startswith(_REMOTE_TEMP) and "/" not in remote_dir[len("/var/tmp/") :]:
                await runner.script(f"rm -rf -- {quote(remote_dir)}", check=False)
        return Change(
            True,
            f"snapshot {self.target}",
            f"from {member.name}: revision {record.revision}, {record.total_keys} keys",
        )

    async def _fetch(
        self, runner: Runner, member: EtcdMember, remote_dir: str, stdout: str
    ) -> BackupRecord:
        remote_sum = (markers(stdout, "sum") or [""])[0]
        status: dict[str, Any] = json.loads((markers(stdout, "status") or ["{}"])[0] or "{}")
        target = self.target
        # Snapshots hold every secret of the cluster: a new backup directory is private.
        await asyncio.to_thread(target.parent.mkdir, mode=0o700, parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.part")
        await runner.files.fetch(f"{remote_dir}/snapshot.db", partial)
        local_sum = await asyncio.to_thread(file_sha256, partial)
        if local_sum != remote_sum:
            partial.unlink(missing_ok=True)
            raise BackupError(
                f"the snapshot from {member.name} changed in transit (sha256 {local_sum} here, "
                f"{remote_sum} on the host)"
            )
        record = BackupRecord(
            cluster=self.cluster,
            file=target.name,
            member=member.name,
            endpoint=member.client_url,
            sha256=local_sum,
            revision=int(status.get("revision", 0)),
            total_keys=int(status.get("totalKey", 0)),
            total_size=int(status.get("totalSize", 0)),
            hash=int(status.get("hash", 0)),
            created=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        _write_atomic(record_path(target), record.as_json() + "\n")
        os.chmod(partial, 0o600)
        os.replace(partial, target)
        return record


def _write_atomic(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


@dataclass(frozen=True)
class PruneBackups(Step):
    """Only the newest ``keep`` snapshots of this cluster stay in ``directory``."""

    directory: str
    cluster: str
    keep: int

    name = "prune-backups"
    description = "keep the newest {keep} backups of {cluster} in {directory}"

    async def precheck(self, ctx: Context) -> Change:
        doomed = await asyncio.to_thread(
            prune_backups, Path(self.directory), self.cluster, self.keep, check=True
        )
        return Change(bool(doomed), "prune backups", ", ".join(p.name for p in doomed))

    async def run(self, ctx: Context) -> Change | None:
        removed = await asyncio.to_thread(
            prune_backups, Path(self.directory), self.cluster, self.keep
        )
        return Change(bool(removed), "prune backups", ", ".join(p.name for p in removed))


class BackupPipeline(Pipeline):
    """``kubexms etcd backup``: one snapshot to ``directory``, then an optional prune."""

    name = "etcd-backup"

    def __init__(self, directory: Path, file: str, keep: int | None) -> None:
        super().__init__()
        self.directory = directory
        self.file = file
        self.keep = keep

    def modules(self, ctx: PlanContext) -> Sequence[Module]:
        cluster = ctx.config.name
        steps: list[Step] = [SaveSnapshot(str(self.directory), self.file, cluster)]
        if self.keep is not None:
            steps.append(PruneBackups(str(self.directory), cluster, self.keep))
        return [Module("backup", [Task("snapshot", steps, ControlMachine())])]
