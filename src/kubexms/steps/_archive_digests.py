"""What extracting an archive from the artifact store would put where: computed locally.

PlaceArtifact's precheck compares these digests with the host's files, so deciding that an
archive is already in place needs neither the archive on the host nor a trial extraction.
"""

from __future__ import annotations

import functools
import hashlib
import posixpath
import stat
import tarfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class ArchiveFile:
    """A regular file the archive holds: where it lands (relative) and what it is."""

    path: str
    sha256: str
    mode: int


class ArchiveContentError(ValueError):
    """The archive lacks a requested member, or holds nothing to extract."""


def _relative(name: str, strip: int) -> str | None:
    parts = [part for part in posixpath.normpath(name).split("/") if part not in ("", ".")]
    if ".." in parts or len(parts) <= strip:
        return None
    return "/".join(parts[strip:])


def _selected(name: str, members: Sequence[str] | None) -> str | None:
    """The requested member ``name`` is (or lies under), or "" for all; None: not wanted."""
    if members is None:
        return ""
    clean = posixpath.normpath(name).removeprefix("./")
    for member in members:
        wanted = posixpath.normpath(member).removeprefix("./")
        if clean == wanted or clean.startswith(wanted.rstrip("/") + "/"):
            return member
    return None


@functools.lru_cache(maxsize=64)
def _files(
    path: str, sha256: str, members: tuple[str, ...] | None, strip: int
) -> tuple[ArchiveFile, ...]:
    # ``sha256`` is part of the key: a store file replaced by another version is read again.
    found: dict[str, ArchiveFile] = {}
    seen: set[str] = set()
    if path.endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                member = _selected(info.filename, members)
                if member is None or info.is_dir():
                    continue
                seen.add(member)
                mode = (info.external_attr >> 16) & 0o7777 or 0o644
                if stat.S_ISLNK(info.external_attr >> 16):
                    continue
                relative = _relative(info.filename, strip)
                if relative is not None:
                    data = hashlib.sha256(archive.read(info)).hexdigest()
                    found[relative] = ArchiveFile(relative, data, mode)
    else:
        with tarfile.open(path, "r:*") as archive:
            for entry in archive:
                member = _selected(entry.name, members)
                if member is None:
                    continue
                seen.add(member)
                if not entry.isreg():
                    continue
                relative = _relative(entry.name, strip)
                handle = archive.extractfile(entry)
                if relative is None or handle is None:
                    continue
                digest = hashlib.sha256()
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
                found[relative] = ArchiveFile(relative, digest.hexdigest(), entry.mode & 0o7777)
    missing = [member for member in members or () if member not in seen]
    if missing:
        raise ArchiveContentError(
            f"{Path(path).name} has no member {', '.join(map(repr, missing))}"
        )
    if not found:
        raise ArchiveContentError(
            f"{Path(path).name} holds no regular file to extract"
            + (f" after stripping {strip} leading director(ies)" if strip else "")
        )
    return tuple(found[key] for key in sorted(found))


def archive_files(
    path: Path, sha256: str, members: Sequence[str] | None, strip: int
) -> tuple[ArchiveFile, ...]:
    """The regular files extracting ``members`` (None: all) of the archive at ``path`` with
    ``strip`` leading directories removed would write, relative to the destination.

    Read once per archive version and selection (cached). ArchiveContentError if a member is
    missing or nothing would be extracted.
    """
    return _files(str(path), sha256, tuple(members) if members is not None else None, strip)
