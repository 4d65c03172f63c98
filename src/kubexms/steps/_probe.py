"""One round trip that tells which of a set of files on a host differ from what is wanted.

The building blocks know the exact bytes they will put on a host (an artifact from the store,
a certificate, a rendered config), so their precheck compares digests: sha256, mode and owner
of every target, computed on the host, never the contents sent over the wire.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from shlex import quote

from kubexms.runner import Runner

_MARK = "@kxms-probe:"

# ``kx_is PATH SHA MODE OWNER``: true when PATH is a regular file (not a link) with that
# sha256 and mode (as ``stat -c %a`` prints it) and, if OWNER is set, that owner (names or
# ids, ``user`` or ``user:group``).
_FUNCTIONS = r"""
kx_owner_is() {
  case "$2" in
    *:*) [ "$(stat -c %U:%G -- "$1")" = "$2" ] || [ "$(stat -c %u:%g -- "$1")" = "$2" ] ;;
    *) [ "$(stat -c %U -- "$1")" = "$2" ] || [ "$(stat -c %u -- "$1")" = "$2" ] ;;
  esac
}
kx_is() {
  [ -f "$1" ] && [ ! -L "$1" ] || return 1
  [ "$(stat -c %a -- "$1")" = "$3" ] || return 1
  [ -z "$4" ] || kx_owner_is "$1" "$4" || return 1
  [ "$(sha256sum < "$1" | cut -d' ' -f1)" = "$2" ]
}
"""


@dataclass(frozen=True, slots=True)
class WantedFile:
    """A file a step wants on the host: its path, the sha256 of its bytes, mode and owner."""

    path: str
    sha256: str
    mode: int
    owner: str | None = None

    @classmethod
    def of(cls, path: str, content: bytes, mode: int, owner: str | None = None) -> WantedFile:
        return cls(path, hashlib.sha256(content).hexdigest(), mode, owner)


def check_absolute(path: str, what: str = "path") -> str:
    """``path`` normalised; ValueError unless it is absolute, not ``/`` and has no NUL."""
    if not isinstance(path, str) or not path.startswith("/") or "\x00" in path:
        raise ValueError(f"{what} {path!r} must be an absolute path")
    normal = "/" + posixpath.normpath(path).lstrip("/")
    if normal == "/":
        raise ValueError(f"{what} must not be the root directory")
    return normal


def probe_script(files: Sequence[WantedFile], extra: str = "") -> str:
    """The script printing ``@kxms-probe:differs <index>`` for every file that differs.

    ``extra`` (trusted shell text) runs after the comparisons, for callers that ask more of
    the host in the same round trip; it reports with its own ``@kxms-probe:`` lines.
    """
    lines = [_FUNCTIONS]
    for index, wanted in enumerate(files):
        lines.append(
            f"kx_is {quote(wanted.path)} {wanted.sha256} {wanted.mode:o} "
            f"{quote(wanted.owner or '')} || echo {_MARK}differs {index}"
        )
    if extra:
        lines.append(extra)
    return "\n".join(lines) + "\n"


def probe_values(stdout: str, word: str) -> list[str]:
    """The values of the ``@kxms-probe:<word> <value>`` lines, in order."""
    prefix = f"{_MARK}{word}"
    found = []
    for line in stdout.splitlines():
        if line == prefix:
            found.append("")
        elif line.startswith(prefix + " "):
            found.append(line[len(prefix) + 1 :])
    return found


def marker(word: str, value: str = "") -> str:
    """Shell text printing one probe line (``value`` is shell text; quote data yourself)."""
    return f"echo {_MARK}{word}" + (f" {value}" if value else "")


async def differing(runner: Runner, files: Sequence[WantedFile]) -> list[WantedFile]:
    """The files among ``files`` that are absent or differ on the host (one round trip)."""
    if not files:
        return []
    result = await runner.script("exec sh -s", stdin=probe_script(files))
    return [files[int(index)] for index in probe_values(result.stdout, "differs")]


def describe_paths(files: Sequence[WantedFile], limit: int = 5) -> str:
    """``a, b, c and 4 more``: the paths for a one-line detail."""
    names = [wanted.path for wanted in files]
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
