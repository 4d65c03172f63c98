"""Run logs and checkpoints are private: 0600 files in 0700 directories.

Event logs carry command output (which may quote configuration files), so nobody but the user
running kubexms may read them, whatever the umask.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) if missing; make ``path`` itself 0700."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    if path.stat().st_mode & 0o777 != DIR_MODE:
        path.chmod(DIR_MODE)
    return path


def open_private(path: Path, mode: str) -> IO[str]:
    """Open ``path`` for text in ``mode`` ("w" or "a"), created 0600 in a 0700 directory; an
    existing file is made 0600 as well."""
    private_dir(path.parent)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if mode == "a" else os.O_TRUNC)
    fd = os.open(path, flags | os.O_CLOEXEC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        return os.fdopen(fd, mode, encoding="utf-8")
    except BaseException:
        os.close(fd)
        raise
