"""``runner.archives``: unpack tar and zip archives that are on the host."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from kubexms.runner._change import Change
from kubexms.runner._errors import UnsupportedHostError
from kubexms.runner._script import check_owner, check_path, check_prelude, markers, quote

if TYPE_CHECKING:
    from kubexms.runner._runner import Runner

ArchiveFormat = Literal["tar", "tar.gz", "tar.xz", "tar.bz2", "zip"]

_SUFFIXES: tuple[tuple[str, ArchiveFormat], ...] = (
    (".tar.gz", "tar.gz"),
    (".tgz", "tar.gz"),
    (".tar.xz", "tar.xz"),
    (".txz", "tar.xz"),
    (".tar.bz2", "tar.bz2"),
    (".tbz2", "tar.bz2"),
    (".tar", "tar"),
    (".zip", "zip"),
)
_TAR_FLAGS = {"tar": "", "tar.gz": "-z", "tar.xz": "-J", "tar.bz2": "-j"}

# Staged entry vs its counterpart under the destination ($0): same kind, bytes (or link
# target), mode and owner. Prints one line per entry that differs.
_COMPARE = r"""for f do
  t="$0/$f"
  if [ -L "$f" ]; then
    if [ -L "$t" ] && [ "$(readlink -- "$f")" = "$(readlink -- "$t")" ]; then continue; fi
  elif [ -f "$t" ] && [ ! -L "$t" ] && cmp -s -- "$f" "$t" \
      && [ "$(stat -c %a:%u:%g -- "$f")" = "$(stat -c %a:%u:%g -- "$t")" ]; then
    continue
  fi
  echo @kxms:differs
done"""
_MAKE_DIRS = 'for x do mkdir -p -- "$0/$x"; done'
_MOVE_FILES = 'for f do mv -f -T -- "$f" "$0/$f"; done'


def detect_format(archive: str) -> ArchiveFormat:
    lowered = archive.lower()
    for suffix, kind in _SUFFIXES:
        if lowered.endswith(suffix):
            return kind
    raise ValueError(
        f"cannot tell the archive format of {archive!r} from its name; pass format= "
        "(tar, tar.gz, tar.xz, tar.bz2 or zip)"
    )


def _zip_pattern(member: str) -> str:
    # unzip treats member arguments as wildcards: make each special character literal.
    return "".join(f"[{c}]" if c in "*?[" else c for c in member)


def extract_script(
    archive: str,
    dest: str,
    kind: ArchiveFormat,
    *,
    members: Sequence[str] | None,
    strip_components: int,
    owner: str | None,
    check: bool = False,
) -> str:
    if kind == "zip":
        names = " ".join(quote(_zip_pattern(m)) for m in members or [])
        unpack = f'unzip -q -o -- "$a" {names} -d "$kx_stage" >&2'
        tool = "unzip"
    else:
        strip = f" --strip-components={strip_components}" if strip_components else ""
        names = " ".join(quote(m) for m in members or [])
        unpack = (
            f'tar -x {_TAR_FLAGS[kind]} --no-same-owner --no-wildcards{strip} -f "$a" '
            f'-C "$kx_stage" -- {names}'
        )
        tool = "tar"
    chown = f'chown -R -h -- {quote(owner)} "$kx_stage"' if owner else ":"
    # A check stages in the temporary directory when ``dest`` does not exist yet, so that
    # it creates nothing the real run would (the staging copy is removed on exit).
    return f"""set -e
{check_prelude(check)}
a={quote(archive)}; d={quote(dest)}
[ -f "$a" ] || {{ echo "archive $a does not exist" >&2; exit 3; }}
command -v {tool} >/dev/null 2>&1 || {{ echo "@kxms:missing {tool}"; exit 0; }}
if [ "$kx_check" = 1 ] && [ ! -d "$d" ]; then
  kx_stage=$(mktemp -d "${{TMPDIR:-/tmp}}/.kubexms-extract.XXXXXX")
else
  (umask 022; kx_act mkdir -p -- "$d")
  kx_stage=$(mktemp -d "$(dirname -- "$d")/.kubexms-extract.XXXXXX")
fi
trap 'rm -rf -- "$kx_stage"' EXIT
{unpack}
{chown}
cd "$kx_stage"
kx_n=$(find . ! -type d -exec sh -c {quote(_COMPARE)} "$d" {{}} + | grep -c . || true)
if [ "$kx_n" -gt 0 ] && [ "$kx_check" = 0 ]; then
  find . -mindepth 1 -type d -exec sh -c {quote(_MAKE_DIRS)} "$d" {{}} +
  find . ! -type d -exec sh -c {quote(_MOVE_FILES)} "$d" {{}} +
fi
echo "@kxms:replaced $kx_n"
"""


class Archives:
    """Unpack archives on the host; only files that differ are replaced (each by rename)."""

    def __init__(self, runner: Runner) -> None:
        self._runner = runner

    async def extract(
        self,
        archive: str,
        dest: str,
        *,
        members: Sequence[str] | None = None,
        strip_components: int = 0,
        owner: str | None = None,
        format: ArchiveFormat | None = None,
        check: bool = False,
    ) -> Change:
        """Extract the host's ``archive`` into ``dest`` (created if missing).

        ``members`` picks entries by exact name (default: all). The archive is unpacked
        into a staging directory beside ``dest`` first and compared, so extracting the same
        archive again changes nothing. Files in ``dest`` the archive lacks are left alone.
        Entries belong to ``owner`` (default: the user extracting, root when elevated).
        ``check``: unpack to the staging directory and compare only; the detail counts the
        files that would be replaced.
        """
        archive, dest = check_path(archive), check_path(dest)
        check_owner(owner)
        kind = format or detect_format(archive)
        if strip_components < 0:
            raise ValueError("strip_components must not be negative")
        if kind == "zip" and strip_components:
            raise ValueError("strip_components is supported for tar archives only")
        if members is not None and not members:
            raise ValueError("members is empty: pass None to extract everything")
        for member in members or []:
            if not member or "\x00" in member:
                raise ValueError(f"archive member name {member!r} is empty or has a NUL")
        script = extract_script(
            archive,
            dest,
            kind,
            members=members,
            strip_components=strip_components,
            owner=owner,
            check=check,
        )
        result = await self._runner.script(script)
        missing = markers(result.stdout, "missing")
        if missing:
            raise UnsupportedHostError(
                self._runner.host_name, f"cannot extract {archive}: {missing[0]} is not installed"
            )
        replaced = int(markers(result.stdout, "replaced")[0])
        detail = f"{replaced} file(s) replaced" if replaced else ""
        return Change(bool(replaced), f"extract {archive} to {dest}", detail)
