"""Files of the PKI directory: written atomically with their final mode from the start."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

KEY_MODE = 0o600
CERT_MODE = 0o644
DIR_MODE = 0o700


def ensure_directory(path: Path) -> None:
    """Create ``path`` (and parents) 0700 if missing; an existing directory is left as it is."""
    if not path.is_dir():
        path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        path.chmod(DIR_MODE)


def write_atomic(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory and a rename.

    The temporary file is created with ``mode`` (0600 for keys), so a secret is never readable
    by others, not even briefly; readers see the old file or the new one, never half of one.
    """
    ensure_directory(path.parent)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _sync_directory(path.parent)


def _sync_directory(path: Path) -> None:
    # The rename is durable only once the directory entry is on disk.
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fix_mode(path: Path, mode: int) -> str | None:
    """Set ``path``'s permission bits to ``mode``; a note saying so if they were different."""
    current = stat.S_IMODE(path.stat().st_mode)
    if current == mode:
        return None
    path.chmod(mode)
    return f"{path.name} mode was {current:04o}, set to {mode:04o}"


def read_optional(path: Path) -> bytes | None:
    """The file's bytes, or None if it does not exist."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
