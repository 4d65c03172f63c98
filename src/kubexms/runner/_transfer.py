"""Upload and fetch that move bytes only when the other side differs."""

from __future__ import annotations

import asyncio
import hashlib
import os
import stat
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from kubexms.runner._change import Change
from kubexms.runner._errors import RunnerError
from kubexms.runner._script import (
    OWNERSHIP_FUNCTIONS,
    check_mode,
    check_owner,
    check_path,
    markers,
    octal,
    quote,
)

if TYPE_CHECKING:
    from kubexms.runner._runner import Runner

_BLOCK = 1 << 20


_DigestKey = tuple[str, int, int, int, int]
_digests: dict[_DigestKey, str] = {}
_digests_lock = threading.Lock()
_computing: dict[_DigestKey, threading.Lock] = {}
_DIGESTS_KEPT = 4096


def file_sha256(path: Path) -> str:
    """The file's sha256, computed once per file version however many hosts it goes to.

    Uploading one file to 50 hosts at once asks for its digest 50 times concurrently: the
    first caller computes it, the others wait for that result. A file counts as unchanged
    while its device, inode, size and mtime are.
    """
    info = path.stat()
    key = (str(path), info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
    with _digests_lock:
        if key in _digests:
            return _digests[key]
        computing = _computing.setdefault(key, threading.Lock())
    with computing:
        with _digests_lock:
            if key in _digests:
                return _digests[key]
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(_BLOCK):
                digest.update(chunk)
        with _digests_lock:
            if len(_digests) >= _DIGESTS_KEPT:
                _digests.pop(next(iter(_digests)))
            _digests[key] = digest.hexdigest()
            _computing.pop(key, None)
            return _digests[key]


def local_manifest(root: Path) -> dict[str, tuple[str, int]]:
    """Relative path → (sha256, mode) of every regular file under ``root`` (or ``root``
    itself, keyed ``""``, when it is a file)."""
    if root.is_file():
        return {"": (file_sha256(root), stat.S_IMODE(root.stat().st_mode))}
    manifest: dict[str, tuple[str, int]] = {}
    for directory, _, names in os.walk(root):
        for name in names:
            path = Path(directory, name)
            if path.is_file() and not path.is_symlink():
                relative = path.relative_to(root).as_posix()
                manifest[relative] = (file_sha256(path), stat.S_IMODE(path.stat().st_mode))
    return manifest


def _check_script(
    remote: str, manifest: dict[str, tuple[str, int]], mode: int | None, owner: str | None
) -> str:
    """A script printing ``@kxms:differs`` once per remote file not matching (all of them
    when the remote directory itself is missing or differs), then ``@kxms:checked``."""
    lines = [
        OWNERSHIP_FUNCTIONS,
        f"root={quote(remote)}",
        f"owner={quote(owner or '')}",
        "kx_all=0",
        "kx_chk() {",
        '  f="$root${3:+/$3}"',
        '  [ "$kx_all" = 0 ] || { echo @kxms:differs; return 0; }',
        '  [ -f "$f" ] && [ ! -L "$f" ] || { echo @kxms:differs; return 0; }',
        '  [ "$(sha256sum < "$f" | cut -d" " -f1)" = "$1" ] || { echo @kxms:differs; return 0; }',
        '  kx_mode_is "$f" "$2" || { echo @kxms:differs; return 0; }',
        '  [ -z "$owner" ] || kx_owner_is "$f" "$owner" || echo @kxms:differs',
        "}",
    ]
    is_dir = "" not in manifest
    if is_dir:
        lines.append('[ -d "$root" ] || { echo @kxms:root; kx_all=1; }')
        if mode is not None:
            lines.append(
                f'[ "$kx_all" = 1 ] || kx_mode_is "$root" {octal(mode)} || echo @kxms:root'
            )
        if owner:
            lines.append('[ "$kx_all" = 1 ] || kx_owner_is "$root" "$owner" || echo @kxms:root')
    for relative, (digest, file_mode) in sorted(manifest.items()):
        wanted = mode if (mode is not None and not is_dir) else file_mode
        lines.append(f"kx_chk {digest} {octal(wanted)} {quote(relative)}")
    lines.append("echo @kxms:checked")
    return "\n".join(lines)


async def upload(
    runner: Runner,
    source: Path,
    remote: str,
    *,
    mode: int | None,
    owner: str | None,
    check: bool = False,
) -> Change:
    remote = check_path(remote)
    if mode is not None:
        check_mode(mode)
    check_owner(owner)
    action = f"upload {source} to {remote}"
    if not await asyncio.to_thread(source.exists):
        raise FileNotFoundError(f"cannot upload {source}: no such file or directory")
    manifest = await asyncio.to_thread(local_manifest, source)
    # The script may be large for a big tree: it is fed to ``sh -s`` on stdin, since one
    # command-line argument is capped at 128 KiB.
    script = _check_script(remote, manifest, mode, owner)
    result = await runner.script("exec sh -s", stdin=script)
    if not markers(result.stdout, "checked"):
        raise RunnerError(runner.host_name, f"cannot compare {remote} with {source}")
    differing = len(markers(result.stdout, "differs"))
    if not differing and not markers(result.stdout, "root"):
        return Change(False, action)
    if "" in manifest:
        detail = "differs" if differing else ""
    else:
        detail = f"{differing} of {len(manifest)} file(s) differ"
        if markers(result.stdout, "root") and not differing:
            detail = "directory mode/owner differs"
    if not check:
        await runner.connector.put(source, remote, mode=mode, owner=owner)
    return Change(True, action, detail)


async def fetch(runner: Runner, remote: str, local: Path) -> Change:
    remote = check_path(remote)
    action = f"fetch {remote} to {local}"
    before = await asyncio.to_thread(_manifest_or_empty, local)
    await runner.connector.get(remote, local)
    after = await asyncio.to_thread(_manifest_or_empty, local)
    return Change(before != after, action, "fetched" if before != after else "")


def _manifest_or_empty(path: Path) -> dict[str, tuple[str, int]]:
    return local_manifest(path) if path.exists() else {}
