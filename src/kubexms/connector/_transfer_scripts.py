"""Shell scripts that move staged files into place, and stage files for fetching.

Both connectors upload into a private staging area first (a 0700 directory only the login
user can enter), then run one of these scripts — under sudo when the login user is not root —
to land each file atomically: copy into a temporary name *in the target directory*, set mode
and owner there, then ``mv -T`` it over the target (a rename, so readers see the old file or
the new one, never a partial one).
"""

from __future__ import annotations

import posixpath
import re

from kubexms.connector._shell import quote

_OWNER = re.compile(r"[^\s:/\-][^\s:/]*(:[^\s:/\-][^\s:/]*)?")


def validate_owner(owner: str) -> None:
    """``owner`` is ``user`` or ``user:group`` (names or numeric ids)."""
    if not _OWNER.fullmatch(owner):
        raise ValueError(f"owner {owner!r} is not 'user' or 'user:group'")


def validate_mode(mode: int) -> None:
    if not 0 <= mode <= 0o7777:
        raise ValueError(f"mode {mode:#o} is not a permission mode (0 to 0o7777)")


def validate_remote_path(path: str) -> None:
    if not path.startswith("/"):
        raise ValueError(f"remote path {path!r} must be absolute")
    if "\x00" in path or "\n" in path:
        raise ValueError(f"remote path {path!r} contains a NUL or newline")
    if posixpath.normpath(path) == "/":
        raise ValueError("remote path must not be the root directory")


def temp_sibling(path: str, token: str) -> str:
    """A hidden temporary name next to ``path``, in the same directory (same filesystem)."""
    directory, name = posixpath.split(posixpath.normpath(path))
    return posixpath.join(directory, f".{name}.kubexms-{token}")


def install_file_script(
    staged: str,
    dest: str,
    *,
    mode: int,
    owner: str | None,
    token: str,
    cleanup: str | None = None,
) -> str:
    """Land the staged file at ``dest`` with ``mode`` and ``owner`` via a same-directory rename.

    If ``staged`` is already the temporary sibling of ``dest`` it is renamed without a copy.
    ``cleanup`` is a staging directory removed whatever happens.
    """
    dest = posixpath.normpath(dest)
    tmp = temp_sibling(dest, token)
    removals = f'rm -f -- "$tmp"; rm -rf -- {quote(cleanup)}' if cleanup else 'rm -f -- "$tmp"'
    lines = [
        "set -e",
        f"tmp={quote(tmp)}",
        f"trap {quote(removals)} EXIT",
        f"mkdir -p -- {quote(posixpath.dirname(dest))}",
    ]
    if staged != tmp:
        lines.append(f'cp -- {quote(staged)} "$tmp"')
    lines.append(f'chmod {mode:04o} "$tmp"')
    if owner is not None:
        validate_owner(owner)
        lines.append(f'chown -- {quote(owner)} "$tmp"')
    lines.append(f'mv -f -T -- "$tmp" {quote(dest)}')
    return "\n".join(lines)


def install_tree_script(
    staged_dir: str,
    dest: str,
    *,
    mode: int | None,
    owner: str | None,
    token: str,
    cleanup: str | None = None,
) -> str:
    """Merge the staged directory tree into ``dest``, each file landing by rename.

    Files keep their staged permission bits; ``owner`` applies to everything written;
    ``mode``, if given, is set on ``dest`` itself. Files already in ``dest`` that the tree
    does not contain are left alone.
    """
    dest = posixpath.normpath(dest)
    if owner is not None:
        validate_owner(owner)
    chown_tmp = f'chown -h -- {quote(owner)} "$t" || {{ rm -f -- "$t"; exit 1; }}' if owner else ""
    place_files = "\n".join(
        [
            "for f do",
            f'  t="$0/${{f%/*}}/.${{f##*/}}.kubexms-{token}"',
            '  cp -P --preserve=mode,timestamps -- "$f" "$t" || exit 1',
            f"  {chown_tmp}" if chown_tmp else "  :",
            '  mv -f -T -- "$t" "$0/$f" || { rm -f -- "$t"; exit 1; }',
            "done",
        ]
    )
    make_dirs = 'for d do mkdir -p -- "$0/$d"; done'
    lines = ["set -e"]
    if cleanup:
        lines.append(f"trap {quote('rm -rf -- ' + quote(cleanup))} EXIT")
    lines += [
        f"dest={quote(dest)}",
        'mkdir -p -- "$dest"',
        f"cd -- {quote(staged_dir)}",
        f'find . -mindepth 1 -type d -exec sh -c {quote(make_dirs)} "$dest" {{}} +',
        f'find . ! -type d -exec sh -c {quote(place_files)} "$dest" {{}} +',
    ]
    if owner is not None:
        chown_dirs = f'for d do chown -- {quote(owner)} "$0/$d"; done'
        lines.append(f'chown -- {quote(owner)} "$dest"')
        lines.append(f'find . -mindepth 1 -type d -exec sh -c {quote(chown_dirs)} "$dest" {{}} +')
    if mode is not None:
        lines.append(f'chmod {mode:04o} "$dest"')
    return "\n".join(lines)


def stage_for_get_script(source: str, staged: str, *, chown_to: str | None) -> str:
    """Copy ``source`` (file or tree) to ``staged`` and hand it to ``chown_to`` for fetching."""
    # Symlinks are followed, as scp does: what is fetched is what the paths point to.
    lines = ["set -e", f"cp -R -L --preserve=mode,timestamps -- {quote(source)} {quote(staged)}"]
    if chown_to is not None:
        validate_owner(chown_to)
        lines.append(f"chown -R -h -- {quote(chown_to)} {quote(staged)}")
        lines.append(f"chmod -R u+rwX -- {quote(staged)}")
    return "\n".join(lines)
