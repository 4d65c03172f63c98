"""One round trip that tells which of a set of files on a host differ from what is wanted.

The building blocks know the exact bytes they will put on a host (an artifact from the store,
a certificate, a rendered config), so their precheck compares digests: sha256, mode and owner
of every target, computed on the host, never the contents sent over the wire.

Hashing is what a precheck of big files costs (containerd's binaries are ~100 MB per host), so
a probe that hashed a file and found it as wanted may record, under ``DIGESTS_DIRECTORY`` on
the host, the file's identity (device, inode, size, modification and change times, to the
nanosecond) with the digest. A later probe trusts the record while that identity is unchanged
and hashes again the moment any of it differs. Every write, truncation, rename over the path,
``chmod`` or ``chown`` changes the change time, which nobody can set back short of changing the
clock; so only a file rewritten by someone who also winds the clock back (or edits the block
device) escapes it: a documented limit. ``verify=True`` ignores the records.
"""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Sequence
from dataclasses import dataclass
from shlex import quote

from kubexms.runner import Runner

_MARK = "@kxms-probe:"

DIGESTS_DIRECTORY = "/var/lib/kubexms/digests"

# ``kx_is PATH SHA MODE OWNER [RECORD]``: true when PATH is a regular file (not a link) with
# that sha256 and mode (as ``stat -c %a`` prints it) and, if OWNER is set, that owner (names
# or ids, ``user`` or ``user:group``). One ``stat`` per file; the sha256 is read from RECORD
# when the file's identity is the one recorded there, else computed (and, with kx_remember=1,
# recorded once the file proved to be as wanted and unchanged while it was hashed).
_FUNCTIONS = r"""
kx_is() {
  [ -f "$1" ] && [ ! -L "$1" ] || return 1
  kx_s=$(stat -c '%a %U %G %u %g|%d %i %s %y %z' -- "$1") || return 1
  kx_id=${kx_s#*|}
  set -- "$1" "$2" "$3" "$4" "${5:-}" ${kx_s%%|*}
  [ "$6" = "$3" ] || return 1
  case "$4" in
    '') ;;
    *:*) [ "$7:$8" = "$4" ] || [ "$9:${10}" = "$4" ] || return 1 ;;
    *) [ "$7" = "$4" ] || [ "$9" = "$4" ] || return 1 ;;
  esac
  if [ -n "$5" ] && [ "$kx_verify" != 1 ] && [ -f "$5" ]; then
    kx_r=; read -r kx_r < "$5" || true
    [ "$kx_r" = "$2 $kx_id" ] && return 0
  fi
  kx_h=$(sha256sum < "$1") || return 1
  [ "${kx_h%% *}" = "$2" ] || return 1
  if [ -n "$5" ] && [ "$kx_remember" = 1 ] \
    && [ "$(stat -c '%d %i %s %y %z' -- "$1" 2>/dev/null)" = "$kx_id" ]; then
    { mkdir -p -- "${5%/*}" && printf '%s\n' "$2 $kx_id" > "$5.$$" && mv -f -- "$5.$$" "$5"; } \
      2>/dev/null || rm -f -- "$5.$$" 2>/dev/null
  fi
  return 0
}
"""


def record_path(path: str) -> str:
    """Where the host keeps the digest record of the file at ``path``."""
    name = hashlib.sha256(path.encode()).hexdigest()[:40]
    return posixpath.join(DIGESTS_DIRECTORY, name)


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


def probe_script(
    files: Sequence[WantedFile], extra: str = "", *, remember: bool = False, verify: bool = False
) -> str:
    """The script printing ``@kxms-probe:differs <index>`` for every file that differs.

    ``extra`` (trusted shell text) runs after the comparisons, for callers that ask more of
    the host in the same round trip; it reports with its own ``@kxms-probe:`` lines.
    ``remember``: record the digest of each file hashed and found as wanted (only a step that
    may change the host says so); ``verify``: hash every file, trusting no record.
    """
    lines = [
        _FUNCTIONS,
        f"kx_remember={int(remember)} kx_verify={int(verify)}",
    ]
    for index, wanted in enumerate(files):
        lines.append(
            f"kx_is {quote(wanted.path)} {wanted.sha256} {wanted.mode:o} "
            f"{quote(wanted.owner or '')} {record_path(wanted.path)} "
            f"|| echo {_MARK}differs {index}"
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


async def differing(
    runner: Runner,
    files: Sequence[WantedFile],
    *,
    remember: bool = False,
    verify: bool = False,
) -> list[WantedFile]:
    """The files among ``files`` that are absent or differ on the host (one round trip).

    ``remember`` and ``verify``: as for :func:`probe_script`.
    """
    if not files:
        return []
    script = probe_script(files, remember=remember, verify=verify)
    result = await runner.script("exec sh -s", stdin=script)
    return [files[int(index)] for index in probe_values(result.stdout, "differs")]


def describe_paths(files: Sequence[WantedFile], limit: int = 5) -> str:
    """``a, b, c and 4 more``: the paths for a one-line detail."""
    names = [wanted.path for wanted in files]
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
