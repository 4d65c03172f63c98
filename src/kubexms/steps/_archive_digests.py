"""What extracting an archive from the artifact store would put where: computed locally.

PlaceArtifact's precheck compares these digests with the host's files, so deciding that an
archive is already in place needs neither the archive on the host nor a trial extraction.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import stat
import tarfile
import threading
import zipfile
from collections.abc import Sequence
from dataclasses import astuple, dataclass
from pathlib import Path

from kubexms._errors import KubexmsError


@dataclass(frozen=True, slots=True)
class ArchiveFile:
    """A regular file the archive holds: where it lands (relative) and what it is."""

    path: str
    sha256: str
    mode: int


class ArchiveContentError(ValueError, KubexmsError):
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


@dataclass(frozen=True, slots=True)
class _Entry:
    name: str
    regular: bool
    sha256: str
    mode: int


_LOCK = threading.Lock()
_KEY_LOCKS: dict[tuple[str, str], threading.Lock] = {}
_ENTRIES: dict[tuple[str, str], tuple[_Entry, ...]] = {}


def _read_entries(path: str) -> tuple[_Entry, ...]:
    entries: list[_Entry] = []
    if path.endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if info.is_dir():
                    continue
                kind = info.external_attr >> 16
                mode = kind & 0o7777 or 0o644
                if stat.S_ISLNK(kind):
                    entries.append(_Entry(info.filename, False, "", mode))
                    continue
                data = hashlib.sha256(archive.read(info)).hexdigest()
                entries.append(_Entry(info.filename, True, data, mode))
    else:
        with tarfile.open(path, "r:*") as archive:
            for entry in archive:
                handle = archive.extractfile(entry) if entry.isreg() else None
                if handle is None:
                    entries.append(_Entry(entry.name, False, "", entry.mode & 0o7777))
                    continue
                digest = hashlib.sha256()
                while chunk := handle.read(1 << 20):
                    digest.update(chunk)
                entries.append(_Entry(entry.name, True, digest.hexdigest(), entry.mode & 0o7777))
    return tuple(entries)


def _sidecar(path: str) -> Path:
    # Beside the archive in the store: a rerun in a new process need not decompress it again.
    archive = Path(path)
    return archive.with_name(f".{archive.name}.digests.json")


def _entries(path: str, sha256: str) -> tuple[_Entry, ...]:
    """Every member of the archive with its digest: read once per archive version, shared by
    concurrent callers (one decompression for all hosts) and kept in a sidecar file."""
    key = (path, sha256)
    with _LOCK:
        lock = _KEY_LOCKS.setdefault(key, threading.Lock())
    with lock:
        if key in _ENTRIES:
            return _ENTRIES[key]
        sidecar = _sidecar(path)
        entries: tuple[_Entry, ...] | None = None
        try:
            saved = json.loads(sidecar.read_text())
            if saved.get("sha256") == sha256:
                entries = tuple(_Entry(*item) for item in saved["entries"])
        except (OSError, ValueError, TypeError, KeyError):
            entries = None
        if entries is None:
            entries = _read_entries(path)
            document = {"sha256": sha256, "entries": [list(astuple(e)) for e in entries]}
            try:
                temporary = sidecar.with_name(sidecar.name + ".part")
                temporary.write_text(json.dumps(document))
                temporary.replace(sidecar)
            except OSError:
                pass  # a read-only store: digests are recomputed next time
        _ENTRIES[key] = entries
        return entries


def _files(
    path: str, sha256: str, members: tuple[str, ...] | None, strip: int
) -> tuple[ArchiveFile, ...]:
    # ``sha256`` is part of the key: a store file replaced by another version is read again.
    found: dict[str, ArchiveFile] = {}
    seen: set[str] = set()
    for entry in _entries(path, sha256):
        member = _selected(entry.name, members)
        if member is None:
            continue
        seen.add(member)
        relative = _relative(entry.name, strip)
        if entry.regular and relative is not None:
            found[relative] = ArchiveFile(relative, entry.sha256, entry.mode)
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

    Read once per archive version (cached in memory and beside the archive).
    ArchiveContentError if a member is missing or nothing would be extracted.
    """
    return _files(str(path), sha256, tuple(members) if members is not None else None, strip)
