"""Shell-script building blocks shared by the operation modules.

Operations run as one POSIX ``sh`` script per call, so checking and changing cost one round
trip. Every piece of data that reaches a script is quoted with ``quote`` or travels on
stdin; scripts report what they did on stdout as ``@kxms:<word> <value>`` lines and send
the chatter of the tools they run to stderr.
"""

from __future__ import annotations

import posixpath
import re
import shlex

MARK = "@kxms:"
_OWNER = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.-]*(:[A-Za-z0-9_.][A-Za-z0-9_.-]*)?")

quote = shlex.quote


def markers(stdout: str, word: str) -> list[str]:
    """The values of every ``@kxms:<word> <value>`` line, in order."""
    prefix = f"{MARK}{word}"
    found: list[str] = []
    for line in stdout.splitlines():
        if line == prefix:
            found.append("")
        elif line.startswith(prefix + " "):
            found.append(line[len(prefix) + 1 :])
    return found


def has_marker(stdout: str, word: str) -> bool:
    return bool(markers(stdout, word))


def emit(word: str, value: str = "") -> str:
    """Shell text printing one marker line; ``value`` is shell text (quote data yourself)."""
    return f"echo {MARK}{word}" + (f" {value}" if value else "")


def check_path(path: str) -> str:
    """Return ``path`` normalised; raise ValueError unless it is absolute and not ``/``."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValueError(f"path {path!r} must be absolute")
    if "\x00" in path:
        raise ValueError(f"path {path!r} contains a NUL byte")
    normal = posixpath.normpath(path)
    if normal.startswith("//"):
        normal = "/" + normal.lstrip("/")
    if normal == "/":
        raise ValueError("path must not be the root directory")
    return normal


def check_mode(mode: int) -> int:
    if not isinstance(mode, int) or not 0 <= mode <= 0o7777:
        raise ValueError(f"mode {mode!r} is not a permission mode (0 to 0o7777)")
    return mode


def check_owner(owner: str | None) -> str | None:
    """``owner`` is ``user`` or ``user:group`` (names or numeric ids), or None."""
    if owner is not None and not _OWNER.fullmatch(owner):
        raise ValueError(f"owner {owner!r} is not 'user' or 'user:group'")
    return owner


# Shell functions shared by scripts that compare a path's mode and owner with the wanted ones.
# ``kx_mode_is PATH MODE`` compares octal modes (stat prints 644, 4755); ``kx_owner_is PATH
# OWNER`` accepts names or numeric ids, with or without a group.
OWNERSHIP_FUNCTIONS = r"""
kx_mode_is() { [ "$(stat -c %a -- "$1")" = "$2" ]; }
kx_owner_is() {
  case "$2" in
    *:*) [ "$(stat -c %U:%G -- "$1")" = "$2" ] || [ "$(stat -c %u:%g -- "$1")" = "$2" ] ;;
    *) [ "$(stat -c %U -- "$1")" = "$2" ] || [ "$(stat -c %u -- "$1")" = "$2" ] ;;
  esac
}
"""


def octal(mode: int) -> str:
    """A mode as ``stat -c %a`` prints it: octal without leading zeros."""
    return format(mode, "o")


def check_prelude(check: bool) -> str:
    """Shell text making a script's changes conditional: with ``check`` the script still
    runs every probe and prints the same markers, but ``kx_act CMD...`` runs nothing and
    ``$kx_check`` is 1. One script serves both, so a check predicts the real run."""
    return f"kx_check={int(check)}\n" + 'kx_act() { [ "$kx_check" = 1 ] || "$@"; }'
