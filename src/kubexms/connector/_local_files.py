"""Files on the control machine: private staging areas and atomic placement.

Blocking filesystem calls; connectors run them in a thread.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Literal

DEFAULT_BYTES_MODE = 0o644


def private_dir(parent: Path | None = None, prefix: str = "kubexms-") -> Path:
    """A fresh directory only this user can enter (mkdtemp creates it 0700)."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir=parent))


def stage_source(source: Path | bytes, staging: Path) -> tuple[Path, int | None]:
    """Copy what ``put`` was given into ``staging``.

    Returns the staged path and, for a single file, the permission bits it should land with
    when the caller gave no mode (the source file's, or 0644 for bytes); None for a tree.
    """
    if isinstance(source, bytes):
        staged = staging / "data"
        fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(source)
        return staged, source_mode(source)
    if source.is_dir():
        staged = staging / "tree"
        shutil.copytree(source, staged)  # follows symlinks, as scp does
        return staged, None
    if source.is_file():
        staged = staging / "data"
        shutil.copyfile(source, staged)
        os.chmod(staged, 0o600)
        return staged, source_mode(source)
    raise FileNotFoundError(f"local source {source} does not exist or is not a file or directory")


def source_kind(source: Path | bytes) -> Literal["file", "tree"] | None:
    """``file`` for bytes or a regular file, ``tree`` for a directory, None if missing."""
    if isinstance(source, bytes) or source.is_file():
        return "file"
    return "tree" if source.is_dir() else None


def source_mode(source: Path | bytes) -> int | None:
    """Permission bits a single file should land with when no mode is given."""
    if isinstance(source, bytes):
        return DEFAULT_BYTES_MODE
    if source.is_file():
        return stat.S_IMODE(source.stat().st_mode)
    return None


def place(staged: Path, dest: Path) -> None:
    """Move ``staged`` (on the same filesystem as ``dest``) to ``dest`` by rename.

    A file replaces ``dest`` atomically. A tree becomes ``dest`` in one rename if ``dest`` does
    not exist, otherwise it is merged into it file by file, each file replaced atomically.
    """
    if staged.is_dir() and not staged.is_symlink():
        if not dest.exists():
            os.rename(staged, dest)
            return
        if not dest.is_dir():
            raise IsADirectoryError(f"cannot replace file {dest} with a directory")
        for root, dirs, files in os.walk(staged):
            relative = Path(root).relative_to(staged)
            for name in dirs:
                entry, target = Path(root) / name, dest / relative / name
                if entry.is_symlink():  # os.walk lists but does not enter links to directories
                    os.replace(entry, target)
                elif not target.is_dir():
                    target.mkdir()
            for name in files:
                os.replace(Path(root) / name, dest / relative / name)
        return
    if dest.is_dir() and not dest.is_symlink():
        raise IsADirectoryError(f"cannot replace directory {dest} with a file")
    os.replace(staged, dest)
