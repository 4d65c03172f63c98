"""Land several files on a host in one round trip, each only if it differs.

The contents travel as a tar stream on stdin (never on a command line, where ``ps`` would
show them and the kernel caps an argument at 128 KiB). The script unpacks them into a private
staging directory, then for each target: same content → only mode and owner are fixed if
they differ; different → copied to a temporary name in the target's directory, given its mode
and owner, and renamed over the target, so readers see the old file or the new one.
"""

from __future__ import annotations

import io
import posixpath
import secrets
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass, field

from kubexms.runner._change import Change
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


@dataclass(frozen=True, slots=True)
class FileSpec:
    """One file to land: absolute path, exact bytes, mode, and owner (``user[:group]``)."""

    path: str
    content: bytes = field(repr=False)
    mode: int = 0o644
    owner: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", check_path(self.path))
        check_mode(self.mode)
        check_owner(self.owner)


_SYNC_FUNCTION = r"""
kx_sync() {
  src="$kx_stage/$1"; dest=$2; tmp=$3; mode=$4; owner=$5
  if [ -f "$dest" ] && [ ! -L "$dest" ] && cmp -s -- "$src" "$dest"; then
    fixed=""
    if ! kx_mode_is "$dest" "$mode"; then kx_act chmod "$mode" -- "$dest"; fixed="mode"; fi
    if [ -n "$owner" ] && ! kx_owner_is "$dest" "$owner"; then
      kx_act chown -- "$owner" "$dest"; fixed="$fixed owner"
    fi
    if [ -n "$fixed" ]; then echo "@kxms:fixed $1"; kx_any=1; else echo "@kxms:same $1"; fi
    return 0
  fi
  if [ -f "$dest" ] && [ ! -L "$dest" ]; then
    echo "@kxms:lines $1 $(diff -- "$dest" "$src" 2>/dev/null | awk '
      /^>/ { a++ } /^</ { d++ } END { printf "%d %d", a, d }')"
  fi
  if [ "$kx_check" = 1 ]; then echo "@kxms:wrote $1"; kx_any=1; return 0; fi
  ( umask 022; mkdir -p -- "$(dirname -- "$tmp")" )
  kx_tmp=$tmp
  cp -- "$src" "$tmp"
  chmod "$mode" -- "$tmp"
  if [ -n "$owner" ]; then chown -- "$owner" "$tmp"; fi
  mv -f -T -- "$tmp" "$dest"
  kx_tmp=""
  echo "@kxms:wrote $1"; kx_any=1
}
"""


def build_tar(specs: Sequence[FileSpec]) -> bytes:
    """The stdin of the sync script: member ``i`` holds the content of ``specs[i]``."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as archive:
        for index, spec in enumerate(specs):
            info = tarfile.TarInfo(str(index))
            info.size = len(spec.content)
            info.mode = 0o600
            archive.addfile(info, io.BytesIO(spec.content))
    return buffer.getvalue()


def sync_script(
    specs: Sequence[FileSpec],
    *,
    before: str = "",
    after_change: str = "",
    after: str = "",
    check: bool = False,
    temp_root: str = "/tmp",
) -> str:
    """The script landing ``specs`` (read as tar from stdin).

    The tar is unpacked in a private directory under ``temp_root`` (a Runner passes its
    run's directory, so a killed run leaves nothing outside it).

    ``before`` runs first; if it sets ``kx_abort=1`` the script stops there and writes
    nothing (it reports why with its own markers). ``after_change`` runs once if any file
    changed (e.g. ``systemctl daemon-reload``);
    ``after`` runs in any case, last. Both are trusted shell text built by the caller, and
    must change nothing when ``$kx_check`` is 1 (use ``kx_act``). With ``check`` the script
    compares every file as usual and prints the same markers, but writes nothing.
    """
    token = secrets.token_hex(6)
    lines = ["set -e", "kx_any=0; kx_tmp=''; kx_abort=0", check_prelude(check)]
    if before:
        lines += [before, '[ "$kx_abort" = 0 ] || exit 0']
    lines += [
        f"kx_root={quote(temp_root)}",
        # A check (dry run, plan --check) creates nothing on the host: it stages in /tmp.
        'if [ "$kx_check" = 1 ]; then kx_root=/tmp; else (umask 022; mkdir -p -- "$kx_root"); fi',
        'kx_stage=$(umask 077; mktemp -d "$kx_root/write.XXXXXX")',
        'trap \'rm -rf -- "$kx_stage"; [ -z "$kx_tmp" ] || rm -f -- "$kx_tmp"\' EXIT',
        'tar -x -f - -C "$kx_stage"',
        OWNERSHIP_FUNCTIONS,
        _SYNC_FUNCTION,
    ]
    for index, spec in enumerate(specs):
        directory, name = posixpath.split(spec.path)
        tmp = posixpath.join(directory, f".{name}.kubexms-{token}")
        lines.append(
            f"kx_sync {index} {quote(spec.path)} {quote(tmp)} {octal(spec.mode)} "
            f"{quote(spec.owner or '')}"
        )
    if after_change:
        lines.append(f'if [ "$kx_any" = 1 ]; then\n{after_change}\nfi')
    if after:
        lines.append(after)
    return "\n".join(lines)


def outcomes(stdout: str, count: int) -> list[str]:
    """Per spec: ``"wrote"``, ``"fixed"`` (mode/owner only) or ``"same"``."""
    result = ["same"] * count
    for word in ("wrote", "fixed"):
        for value in markers(stdout, word):
            result[int(value)] = word
    return result


def file_changes(specs: Sequence[FileSpec], stdout: str) -> list[Change]:
    """The sync script's report as one Change per spec, in order; the detail of a file
    whose content differs counts the lines a diff adds and removes."""
    lines: dict[int, str] = {}
    for value in markers(stdout, "lines"):
        position, added, removed = value.split()
        lines[int(position)] = f"+{added} -{removed} lines"
    changes = []
    for index, (spec, outcome) in enumerate(zip(specs, outcomes(stdout, len(specs)), strict=True)):
        if outcome == "wrote":
            detail = lines.get(index, "new file")
            if detail == "+0 -0 lines":
                detail = "content differs"
        else:
            detail = "mode/owner fixed" if outcome == "fixed" else ""
        changes.append(Change(outcome != "same", f"write {spec.path}", detail))
    return changes
