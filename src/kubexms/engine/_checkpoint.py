"""Checkpoints: which (node, host) pairs a run completed, so ``--resume`` can skip them.

One file per pipeline in the cluster's work dir, JSON lines: a header (pipeline, the hash of
the config and the hash of the plan, when it began) written atomically by rename, then one
line per completed pair, appended. A line is written whole or not at all from the reader's
point of view: a torn last line (the machine died mid-write) is ignored, so that pair is
simply run again (steps are idempotent). Nothing secret is stored: ids, host names, hashes.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from kubexms.config import Cluster
from kubexms.engine._errors import CheckpointError
from kubexms.engine._private_files import open_private

FORMAT = 1
_FLUSH_EVERY = 0.5  # seconds between fsyncs while pairs complete quickly


def config_fingerprint(config: Cluster) -> str:
    """sha256 of the cluster file's content. Secrets are masked before hashing (pydantic
    dumps SecretStr as asterisks), so the hash reveals nothing about them."""
    data = config.model_dump(mode="json", by_alias=True)
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def checkpoint_path(work_dir: Path, pipeline: str) -> Path:
    return work_dir / "checkpoints" / f"{pipeline}.jsonl"


@dataclass(frozen=True, slots=True)
class CheckpointKey:
    """What a checkpoint belongs to."""

    pipeline: str
    config_hash: str
    plan_hash: str


@dataclass(frozen=True, slots=True)
class SavedCheckpoint:
    """A checkpoint as read back: its key, when it began, and the completed pairs."""

    key: CheckpointKey
    created: float
    completed: frozenset[tuple[str, str]]


def read_checkpoint(path: Path) -> SavedCheckpoint | None:
    """The checkpoint at ``path``; None if there is none. CheckpointError if unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as error:
        raise CheckpointError(f"cannot read the checkpoint {path}: {error}") from None
    lines = text.split("\n")
    try:
        header = json.loads(lines[0])
        if header.get("format") != FORMAT:
            raise CheckpointError(f"{path} is not a checkpoint this version understands")
        key = CheckpointKey(header["pipeline"], header["config_hash"], header["plan_hash"])
        created = float(header["created"])
    except (ValueError, KeyError, TypeError, AttributeError):
        raise CheckpointError(f"{path} is not a readable checkpoint; remove it") from None
    completed: set[tuple[str, str]] = set()
    # The last element is "" after a complete final line, or a torn line: either way skipped.
    for line in lines[1:-1]:
        try:
            record = json.loads(line)
            completed.add((str(record["node"]), str(record["host"])))
        except (ValueError, KeyError, TypeError):
            raise CheckpointError(f"{path} has a damaged line; remove it") from None
    return SavedCheckpoint(key, created, frozenset(completed))


class CheckpointWriter:
    """Appends completed pairs to a checkpoint file; ``flush`` makes them durable."""

    def __init__(self, path: Path, handle: IO[str]) -> None:
        self.path = path
        self._handle = handle
        self._last_sync = time.monotonic()
        self._dirty = False

    @classmethod
    def create(cls, path: Path, key: CheckpointKey) -> CheckpointWriter:
        """A new, empty checkpoint for ``key``, replacing any old one atomically."""
        header = {
            "format": FORMAT,
            "pipeline": key.pipeline,
            "config_hash": key.config_hash,
            "plan_hash": key.plan_hash,
            "created": time.time(),
        }
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open_private(temporary, "w") as handle:
            handle.write(json.dumps(header) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        return cls(path, open_private(path, "a"))

    @classmethod
    def append(cls, path: Path) -> CheckpointWriter:
        """Continue an existing checkpoint (a resumed run)."""
        with path.open("rb+") as handle:
            # Cut a torn last line, so the next record starts on a line of its own.
            data = handle.read()
            end = data.rfind(b"\n") + 1
            if end != len(data):
                handle.truncate(end)
        return cls(path, open_private(path, "a"))

    def record(self, node: str, host: str) -> None:
        line: dict[str, Any] = {"node": node, "host": host}
        self._handle.write(json.dumps(line, separators=(",", ":")) + "\n")
        self._dirty = True
        if time.monotonic() - self._last_sync >= _FLUSH_EVERY:
            self.flush()

    def settle(self) -> None:
        """Hand written records to the OS (a killed process loses none of them); fsync only
        if the last one is ``_FLUSH_EVERY`` old. A node's end calls this: an fsync per node
        held the event loop ~10 ms each time on a busy disk, and a machine that crashes loses
        at most that half second of records, whose pairs a resume checks again (idempotent)."""
        if not self._dirty or self._handle.closed:
            return
        if time.monotonic() - self._last_sync >= _FLUSH_EVERY:
            self.flush()
        else:
            self._handle.flush()

    def flush(self) -> None:
        """Push written records to disk."""
        if not self._dirty or self._handle.closed:
            return
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._dirty = False
        self._last_sync = time.monotonic()

    def close(self) -> None:
        if not self._handle.closed:
            self.flush()
            self._handle.close()

    def discard(self) -> None:
        """The run succeeded: nothing is left to resume, so the checkpoint goes."""
        self.close()
        self.path.unlink(missing_ok=True)


@dataclass(frozen=True, slots=True)
class ResumePoint:
    """Where a run starts: the pairs it may skip, and whether it continues the old file."""

    path: Path
    key: CheckpointKey
    completed: frozenset[tuple[str, str]]
    continues: bool
    saved: SavedCheckpoint | None

    def open_writer(self) -> CheckpointWriter:
        """The writer for this run (call it once the run owns its hosts: after locking)."""
        if self.continues:
            return CheckpointWriter.append(self.path)
        writer = CheckpointWriter.create(self.path, self.key)
        for node, host in sorted(self.completed):
            writer.record(node, host)
        writer.flush()
        return writer


def resume_point(path: Path, key: CheckpointKey, *, resume: bool, force: bool) -> ResumePoint:
    """Decide, without writing anything, where a run starts.

    Without ``resume`` it starts from the beginning (a fresh checkpoint will replace any old
    one). With ``resume`` the saved checkpoint must be for the same pipeline, config and plan,
    otherwise CheckpointError, unless ``force`` (then pairs whose node still exists are
    skipped). No checkpoint at all means there is nothing to resume: start from the beginning.
    """
    if not resume:
        return ResumePoint(path, key, frozenset(), False, None)
    saved = read_checkpoint(path)
    if saved is None:
        return ResumePoint(path, key, frozenset(), False, None)
    problems = []
    if saved.key.pipeline != key.pipeline:
        problems.append(f"it is for pipeline {saved.key.pipeline}, not {key.pipeline}")
    if saved.key.config_hash != key.config_hash:
        problems.append("the cluster file changed since it was written")
    if saved.key.plan_hash != key.plan_hash:
        problems.append("the plan changed (other options, or another kubexms version)")
    if problems and not force:
        raise CheckpointError(
            f"cannot resume from {path}: {'; and '.join(problems)}. Run without --resume to "
            "start over, or add --force to resume anyway (completed steps are skipped)"
        )
    return ResumePoint(path, key, saved.completed, not problems, saved)
