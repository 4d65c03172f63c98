"""Reading a run's event log (``<workDir>/runs/*.jsonl``) while the run may still write it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def events(path: Path) -> list[dict[str, Any]]:
    """The events written so far, in order (a last line still being written is left out)."""
    found = []
    for line in path.read_text().splitlines():
        try:
            found.append(json.loads(line))
        except ValueError:  # the last line may still be being written
            break
    return found
