"""``runner.files``: read and change files on the host."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kubexms.runner import _managed_block, _transfer
from kubexms.runner._change import Change
from kubexms.runner._file_sync import FileSpec, build_tar, file_changes, sync_script
from kubexms.runner._script import (
    OWNERSHIP_FUNCTIONS,
    check_mode,
    check_owner,
    check_path,
    check_prelude,
    markers,
    octal,
    quote,
)

if TYPE_CHECKING:
    from kubexms.runner._runner import Runner

_KINDS = {
    "regular file": "file",
    "regular empty file": "file",
    "directory": "directory",
    "symbolic link": "symlink",
}


@dataclass(frozen=True, slots=True)
class FileStat:
    """What ``stat`` says about a path (the link itself for a symlink)."""

    path: str
    kind: str  # file, directory, symlink or other
    mode: int
    owner: str
    group: str
    uid: int
    gid: int
    size: int
    mtime: int
    link_target: str | None = None


def _changed_script(path: str, body: str, check: bool) -> str:
    return "\n".join(
        [
            "set -e",
            check_prelude(check),
            OWNERSHIP_FUNCTIONS,
            f"p={quote(path)}",
            "kx_done=''",
            body,
        ]
    )


class Files:
    """File operations; every path is absolute and every write is atomic."""

    def __init__(self, runner: Runner) -> None:
        self._runner = runner

    async def exists(self, path: str) -> bool:
        """Whether ``path`` exists (a dangling symlink counts)."""
        path = check_path(path)
        result = await self._runner.script(
            f'p={quote(path)}; [ -e "$p" ] || [ -L "$p" ]', check=False
        )
        return result.ok

    async def stat(self, path: str) -> FileStat | None:
        """Type, mode, owner, size and mtime of ``path``; None if it does not exist."""
        path = check_path(path)
        script = "\n".join(
            [
                f"p={quote(path)}",
                '[ -e "$p" ] || [ -L "$p" ] || exit 0',
                'echo "@kxms:stat $(stat -c \'%a|%U|%G|%u|%g|%s|%Y|%F\' -- "$p")"',
                'if [ -L "$p" ]; then echo "@kxms:link $(readlink -- "$p" | base64 -w0)"; fi',
            ]
        )
        result = await self._runner.script(script)
        found = markers(result.stdout, "stat")
        if not found:
            return None
        mode, owner, group, uid, gid, size, mtime, kind = found[0].split("|", 7)
        link = markers(result.stdout, "link")
        target = base64.b64decode(link[0]).decode(errors="surrogateescape")[:-1] if link else None
        return FileStat(
            path=path,
            kind=_KINDS.get(kind, "other"),
            mode=int(mode, 8),
            owner=owner,
            group=group,
            uid=int(uid),
            gid=int(gid),
            size=int(size),
            mtime=int(mtime),
            link_target=target,
        )

    async def read(self, path: str) -> bytes:
        """The exact bytes of a file. Raises CommandFailedError if it cannot be read."""
        found = await self._read_with_mode(path)
        if found is None:
            raise FileNotFoundError(f"{self._runner.host_name}: no such file: {path}")
        return found[0]

    async def read_text(self, path: str) -> str:
        """A file as text (UTF-8; undecodable bytes kept via surrogateescape)."""
        return (await self.read(path)).decode(errors="surrogateescape")

    async def _read_with_mode(self, path: str) -> tuple[bytes, int] | None:
        path = check_path(path)
        script = "\n".join(
            [
                "set -e",
                f"p={quote(path)}",
                '[ -e "$p" ] || exit 0',
                'echo "@kxms:mode $(stat -L -c %a -- "$p")"',
                'echo "@kxms:data $(base64 -w0 < "$p")"',
            ]
        )
        result = await self._runner.script(script)
        mode = markers(result.stdout, "mode")
        if not mode:
            return None
        data = markers(result.stdout, "data")
        return base64.b64decode(data[0] if data else ""), int(mode[0], 8)

    async def sha256(self, path: str) -> str | None:
        """The file's sha256 as hex; None if it is not a regular file."""
        path = check_path(path)
        script = f'p={quote(path)}\n[ -f "$p" ] || exit 0\necho "@kxms:sum $(sha256sum < "$p")"'
        result = await self._runner.script(script)
        found = markers(result.stdout, "sum")
        return found[0].split()[0] if found else None

    async def write(
        self,
        path: str,
        content: str | bytes,
        *,
        mode: int = 0o644,
        owner: str | None = None,
        check: bool = False,
    ) -> Change:
        """Write ``content`` to ``path`` atomically with ``mode`` and ``owner``.

        Nothing is written when the file already holds exactly these bytes; a differing mode
        or owner is then fixed in place. Parent directories are created (0755) as needed.
        ``owner`` None keeps an existing file's owner (a new file belongs to the user the
        operation runs as, root when elevated). The detail says ``new file``, ``+A -D
        lines`` (what a diff adds and removes) or ``mode/owner fixed``. ``check``: change
        nothing, return the Change a write would make (every operation that changes a host
        takes ``check``).
        """
        data = content.encode() if isinstance(content, str) else content
        (change,) = await self.write_many([FileSpec(path, data, mode, owner)], check=check)
        return change

    async def write_many(self, specs: Sequence[FileSpec], *, check: bool = False) -> list[Change]:
        """Write several files in one round trip; one Change per file, in order."""
        if not specs:
            return []
        script = sync_script(specs, check=check, temp_root=self._runner.temp_dir)
        result = await self._runner.script(script, stdin=build_tar(specs))
        return file_changes(specs, result.stdout)

    async def mkdir(
        self, path: str, *, mode: int = 0o755, owner: str | None = None, check: bool = False
    ) -> Change:
        """``mkdir -p`` with ``mode`` and ``owner`` on the last component."""
        path, mode, owner = check_path(path), check_mode(mode), check_owner(owner)
        body = f"""
o={quote(owner or "")}
if [ ! -d "$p" ]; then
  (umask 022; kx_act mkdir -p -- "$p"); kx_act chmod {octal(mode)} -- "$p"
  [ -z "$o" ] || kx_act chown -- "$o" "$p"
  kx_done="created"
else
  kx_mode_is "$p" {octal(mode)} || {{ kx_act chmod {octal(mode)} -- "$p"; kx_done="mode"; }}
  [ -z "$o" ] || kx_owner_is "$p" "$o" || {{ kx_act chown -- "$o" "$p"; kx_done="$kx_done owner"; }}
fi
echo "@kxms:done $kx_done"
"""
        return await self._simple(f"mkdir {path}", _changed_script(path, body, check))

    async def remove(self, path: str, *, check: bool = False) -> Change:
        """Remove a file, symlink or whole directory tree; unchanged if already absent."""
        path = check_path(path)
        body = 'if [ -e "$p" ] || [ -L "$p" ]; then kx_act rm -rf -- "$p"; kx_done=removed; fi\n'
        body += 'echo "@kxms:done $kx_done"'
        return await self._simple(f"remove {path}", _changed_script(path, body, check))

    async def chmod(self, path: str, mode: int, *, check: bool = False) -> Change:
        """Set the permission bits of an existing path."""
        path, mode = check_path(path), check_mode(mode)
        body = (
            f'kx_mode_is "$p" {octal(mode)} || '
            f'{{ kx_act chmod {octal(mode)} -- "$p"; kx_done="mode {octal(mode)}"; }}'
        )
        body += '\necho "@kxms:done $kx_done"'
        return await self._simple(f"chmod {octal(mode)} {path}", _changed_script(path, body, check))

    async def chown(
        self, path: str, owner: str, *, recursive: bool = False, check: bool = False
    ) -> Change:
        """Set the owner (``user`` or ``user:group``) of a path, or of a whole tree."""
        path = check_path(path)
        check_owner(owner)
        if recursive:
            user, _, group = owner.partition(":")
            test = f"! -user {quote(user)}" + (f" -o ! -group {quote(group)}" if group else "")
            body = (
                f'if [ -n "$(find "$p" \\( {test} \\) -print -quit)" ]; then '
                f'kx_act chown -R -- {quote(owner)} "$p"; kx_done=owner; fi'
            )
        else:
            body = (
                f'kx_owner_is "$p" {quote(owner)} || '
                f'{{ kx_act chown -- {quote(owner)} "$p"; kx_done=owner; }}'
            )
        body += '\necho "@kxms:done $kx_done"'
        return await self._simple(f"chown {owner} {path}", _changed_script(path, body, check))

    async def symlink(self, target: str, link: str, *, check: bool = False) -> Change:
        """Make ``link`` a symlink to ``target`` (replacing a different link or file)."""
        link = check_path(link)
        if not target or "\x00" in target:
            raise ValueError(f"symlink target {target!r} is empty or contains a NUL byte")
        body = f"""
t={quote(target + chr(10))}
cur=""
if [ -L "$p" ]; then cur=$(readlink -- "$p"; echo .); cur=${{cur%.}}; fi
if [ "$cur" != "$t" ]; then
  kx_done=linked
  if [ "$kx_check" = 0 ]; then
    tmp="$(dirname -- "$p")/.kubexms-link-$$"
    ( umask 022; mkdir -p -- "$(dirname -- "$p")" )
    ln -s -f -n -- {quote(target)} "$tmp"
    mv -f -T -- "$tmp" "$p"
  fi
fi
echo "@kxms:done $kx_done"
"""
        return await self._simple(f"symlink {link} -> {target}", _changed_script(link, body, check))

    async def managed_block(
        self,
        path: str,
        block: str | None,
        *,
        marker: str = "kubexms",
        comment: str = "#",
        mode: int | None = None,
        owner: str | None = None,
        check: bool = False,
    ) -> Change:
        """Keep ``block`` between ``{comment} BEGIN {marker}`` / ``END`` lines in a file.

        The rest of the file is left exactly as it is; a missing block is appended and a
        missing file created. ``block=None`` removes the block. ``mode`` None keeps the
        file's mode (0644 for a new file).
        """
        path = check_path(path)
        current = await self._read_with_mode(path)
        text = current[0].decode(errors="surrogateescape") if current else ""
        new = _managed_block.replace_block(text, block, marker=marker, comment=comment)
        if current is not None and new == text and mode in (None, current[1]) and owner is None:
            return Change(False, f"managed block {marker} in {path}")
        final_mode = mode if mode is not None else (current[1] if current else 0o644)
        change = await self.write(
            path, new.encode(errors="surrogateescape"), mode=final_mode, owner=owner, check=check
        )
        return Change(change.changed, f"managed block {marker} in {path}", change.detail)

    async def upload(
        self,
        source: Path,
        remote_path: str,
        *,
        mode: int | None = None,
        owner: str | None = None,
        check: bool = False,
    ) -> Change:
        """Copy a local file or directory to the host unless it already holds the same.

        A file compares by sha256, mode (default: the local file's) and owner; a directory
        compares each file the same way and leaves extra remote files alone. The detail
        counts the files that differ.
        """
        return await _transfer.upload(
            self._runner, source, remote_path, mode=mode, owner=owner, check=check
        )

    async def fetch(self, remote_path: str, local_path: Path) -> Change:
        """Copy a remote file or directory to this machine; changed if the local copy did."""
        return await _transfer.fetch(self._runner, remote_path, local_path)

    async def _simple(self, action: str, script: str) -> Change:
        result = await self._runner.script(script)
        done = " ".join(" ".join(markers(result.stdout, "done")).split())
        return Change(bool(done), action, done)
