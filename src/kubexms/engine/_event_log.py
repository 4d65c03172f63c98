"""The JSON-lines event log: one file per run in the work dir, or a stream such as stdout."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import IO

from kubexms.engine._events import Event
from kubexms.engine._private_files import open_private


def run_log_path(work_dir: Path, pipeline: str, run_id: str) -> Path:
    """``<work dir>/runs/<UTC time>-<pipeline>-<run id>.jsonl``: sorted by time when listed."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    return work_dir / "runs" / f"{stamp}-{pipeline}-{run_id}.jsonl"


class JsonLinesLog:
    """An event sink writing each event as one JSON line, flushed as it is written so that a
    reader (a test, ``tail -f``, CI) sees the run as it goes."""

    def __init__(self, stream: IO[str], *, run_id: str | None = None) -> None:
        self._stream = stream
        self._run_id = run_id

    @classmethod
    def open(cls, path: Path, *, run_id: str | None = None) -> JsonLinesLog:
        return cls(open_private(path, "a"), run_id=run_id)

    def __call__(self, event: Event) -> None:
        record = event.as_dict()
        if self._run_id is not None:
            record.setdefault("run", self._run_id)
        self._stream.write(json.dumps(record, separators=(",", ":"), default=str) + "\n")
        self._stream.flush()

    def close(self) -> None:
        self._stream.close()
