"""``runner.packages``: install and remove OS packages with the host's package manager."""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kubexms.runner._change import Change
from kubexms.runner._errors import UnsupportedHostError
from kubexms.runner._package_state import LOCK_WAIT, package_failure, repair_script
from kubexms.runner._script import check_prelude, markers, quote

if TYPE_CHECKING:
    from kubexms.connector import CommandResult
    from kubexms.runner._runner import Runner

# apt accepts ``name=version``; dnf and yum ``name-version``. Nothing here may start with a
# dash (it would read as an option) or hold shell or glob characters.
_PACKAGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9+._:~=-]*")
_SUPPORTED = ("apt", "dnf", "yum")
_FILE_SUFFIX = {"apt": ".deb", "dnf": ".rpm", "yum": ".rpm"}
_INSTALL_TIMEOUT = 1800.0

# ``kx_has NAME`` succeeds if the package is installed (for apt, at the pinned version if
# NAME is ``name=version``).
_HAS = {
    "apt": r"""kx_has() {
  case "$1" in
    *=*) [ "$(dpkg-query -W -f='${Status} ${Version}' "${1%%=*}" 2>/dev/null)" \
           = "install ok installed ${1#*=}" ] ;;
    *) dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q ' installed$' ;;
  esac
}""",
    "dnf": 'kx_has() { rpm -q --quiet "$1"; }',
    "yum": 'kx_has() { rpm -q --quiet "$1"; }',
}
_APT = f"DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout={int(LOCK_WAIT)}"
_INSTALL = {
    "apt": f'{_APT} install --no-install-recommends "$@" >&2',
    "dnf": 'dnf -y install "$@" >&2',
    "yum": 'yum -y install "$@" >&2',
}
# Files are installed only when their package is not installed at their version: one that
# is (half) there at that version is reinstalled, which is the only repair of a package dpkg
# marked reinstall-required (plain install would try to configure it, and fail).
_INSTALL_FILES = {**_INSTALL, "apt": _INSTALL["apt"].replace(" install ", " install --reinstall ")}
_REMOVE = {
    "apt": f'{_APT} remove "$@" >&2',
    "dnf": 'dnf -y remove "$@" >&2',
    "yum": 'yum -y remove "$@" >&2',
}
_UPDATE = {
    "apt": f"{_APT} update >&2",
    "dnf": "dnf -y makecache >&2",
    "yum": "yum -y makecache >&2",
}
# ``kx_file_wanted FILE`` succeeds if the package in FILE is not installed at its version.
_FILE_WANTED = {
    "apt": r"""kx_file_wanted() {
  n=$(dpkg-deb -f "$1" Package); v=$(dpkg-deb -f "$1" Version)
  [ "$(dpkg-query -W -f='${Status} ${Version}' "$n" 2>/dev/null)" != "install ok installed $v" ]
}
kx_file_name() { dpkg-deb -f "$1" Package; }""",
    "dnf": r"""kx_file_wanted() {
  ! rpm -q --quiet "$(rpm -qp --qf '%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}' "$1")"
}
kx_file_name() { rpm -qp --qf '%{NAME}' "$1"; }""",
}
_FILE_WANTED["yum"] = _FILE_WANTED["dnf"]


def check_names(names: Sequence[str]) -> list[str]:
    if isinstance(names, str):
        raise TypeError("pass a list of package names, not one string")
    bad = [name for name in names if not _PACKAGE.fullmatch(name)]
    if bad:
        raise ValueError(f"not a package name: {', '.join(map(repr, bad))}")
    return list(names)


# With check on (``kx_check=1``), a script stops after its probe, reporting what it would do.
_STOP_IF_CHECK = '[ "$kx_check" = 0 ] || exit 0'


def install_script(manager: str, names: Sequence[str], *, update: bool, check: bool = False) -> str:
    lines = [
        "set -e",
        check_prelude(check),
        _HAS[manager],
        "set --",
        f'for p in {" ".join(quote(n) for n in names)}; do kx_has "$p" || set -- "$@" "$p"; done',
        '[ "$#" -gt 0 ] || exit 0',
        'for p do echo "@kxms:installed $p"; done',
        _STOP_IF_CHECK,
    ]
    if update:
        lines.append(_UPDATE[manager])
    lines.append(_INSTALL[manager])
    return "\n".join(lines)


def remove_script(manager: str, names: Sequence[str], *, check: bool = False) -> str:
    return "\n".join(
        [
            "set -e",
            check_prelude(check),
            _HAS[manager],
            "set --",
            f"for p in {' '.join(quote(n) for n in names)}; do",
            '  if kx_has "$p"; then set -- "$@" "$p"; fi',
            "done",
            '[ "$#" -gt 0 ] || exit 0',
            'for p do echo "@kxms:removed $p"; done',
            _STOP_IF_CHECK,
            _REMOVE[manager],
        ]
    )


def query_script(manager: str, names: Sequence[str]) -> str:
    """Prints ``@kxms:yes NAME`` for each of ``names`` installed. For apt one dpkg-query
    answers for all of them (one process, not one per name: seconds on a busy host with 30
    packages); a ``name=version`` is installed when that version is."""
    if manager == "apt":
        bare = " ".join(quote(name.split("=", 1)[0]) for name in names)
        wanted = " ".join(quote(name) for name in names)
        return "\n".join(
            [
                "kx_have=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev} ${Version}\\n' "
                f"-- {bare} 2>/dev/null || true)",
                f"for p in {wanted}; do",
                '  n=${p%%=*}; v=${p#*=}; [ "$v" != "$p" ] || v=""',
                "  printf '%s\\n' \"$kx_have\" | while read -r name status version; do",
                '    [ "$name" = "$n" ] && [ "$status" = ii ] || continue',
                '    [ -z "$v" ] || [ "$version" = "$v" ] || continue',
                '    echo "@kxms:yes $p"; break',
                "  done",
                "done",
            ]
        )
    return "\n".join(
        [
            _HAS[manager],
            f"for p in {' '.join(quote(n) for n in names)}; do",
            '  if kx_has "$p"; then echo "@kxms:yes $p"; else echo "@kxms:no $p"; fi',
            "done",
        ]
    )


# Refreshes the package lists with no retries and short timeouts, and says whether every
# configured repository answered: apt exits 0 even when sources fail, so its Err: lines are
# read too, and a host with no source at all (nothing fetched, nothing hit) reaches nothing.
_REFRESH = {
    "apt": r"""kx_out=$(DEBIAN_FRONTEND=noninteractive apt-get -q -o Acquire::Retries=0 \
  -o Acquire::http::Timeout=10 -o Acquire::https::Timeout=10 -o Acquire::ftp::Timeout=10 \
  -o DPkg::Lock::Timeout=300 update 2>&1) && kx_rc=0 || kx_rc=$?
printf '%s
' "$kx_out" >&2
kx_err=$(printf '%s
' "$kx_out" | grep -E '^(Err:|E:|W: Failed to fetch)' | head -n 2 | tr '
' ' ')
if [ "$kx_rc" -ne 0 ] || [ -n "$kx_err" ]; then
  echo "@kxms:unreached $(printf '%s' "${kx_err:-apt-get update exited $kx_rc}" | base64 -w0)"
elif ! printf '%s
' "$kx_out" | grep -qE '^(Hit|Get):'; then
  echo "@kxms:unreached $(printf 'no package source is configured' | base64 -w0)"
else
  echo "@kxms:reached"
fi""",
    "dnf": r"""if kx_out=$(dnf -y makecache 2>&1); then echo "@kxms:reached"
else echo "@kxms:unreached $(printf '%s' "$kx_out" | tail -n 2 | base64 -w0)"; fi""",
    "yum": r"""if kx_out=$(yum -y makecache 2>&1); then echo "@kxms:reached"
else echo "@kxms:unreached $(printf '%s' "$kx_out" | tail -n 2 | base64 -w0)"; fi""",
}


@dataclass(frozen=True, slots=True)
class RepositoryReach:
    """Whether a host's configured package repositories answered a refresh, and if not,
    what went wrong (the package manager's first errors)."""

    reached: bool
    problem: str = ""


def install_files_script(
    manager: str, directory: str, count: int, suffix: str, *, check: bool = False
) -> str:
    files = " ".join(f'"$d"/{index}{suffix}' for index in range(count))
    return "\n".join(
        [
            "set -e",
            check_prelude(check),
            f"d={quote(directory)}",
            "trap 'rm -rf -- \"$d\"' EXIT",
            _FILE_WANTED[manager],
            "set --",
            f'for f in {files}; do kx_file_wanted "$f" && set -- "$@" "$f"; done',
            '[ "$#" -gt 0 ] || exit 0',
            'for f do echo "@kxms:installed $(kx_file_name "$f")"; done',
            _STOP_IF_CHECK,
            _INSTALL_FILES[manager],
        ]
    )


class Packages:
    """Packages through apt, dnf or yum, chosen from the host's facts."""

    def __init__(self, runner: Runner) -> None:
        self._runner = runner

    async def manager(self) -> str:
        """The host's package manager (apt, dnf or yum); UnsupportedHostError otherwise."""
        found = (await self._runner.facts()).package_manager
        if found not in _SUPPORTED:
            raise UnsupportedHostError(
                self._runner.host_name,
                f"no supported package manager (found {found or 'none'}; need apt, dnf or yum)",
            )
        return found

    async def installed(self, names: Sequence[str]) -> dict[str, bool]:
        """Which of ``names`` are installed, in one round trip."""
        names = check_names(names)
        if not names:
            return {}
        result = await self._runner.script(query_script(await self.manager(), names))
        yes = set(markers(result.stdout, "yes"))
        return {name: name in yes for name in names}

    async def refresh(self, *, timeout: float = 300.0) -> RepositoryReach:
        """Refresh the package lists (``apt-get update``, ``dnf makecache``) and say whether
        every configured repository answered. Nothing is retried: a host with no route out
        fails within seconds. The lists are only replaced where a repository answered."""
        result = await self._runner.script(_REFRESH[await self.manager()], timeout=timeout)
        if markers(result.stdout, "reached"):
            return RepositoryReach(True)
        problem = (markers(result.stdout, "unreached") or [""])[0]
        text = base64.b64decode(problem).decode(errors="replace") if problem else ""
        return RepositoryReach(False, " ".join(text.split()) or "the refresh failed")

    async def is_installed(self, name: str) -> bool:
        return (await self.installed([name]))[name]

    async def install(
        self,
        names: Sequence[str],
        *,
        update: bool = False,
        timeout: float = _INSTALL_TIMEOUT,
        check: bool = False,
    ) -> Change:
        """Install those of ``names`` not yet installed, from the configured repositories.

        ``update`` refreshes the package lists first (only when something is missing). The
        detail names the packages installed (``check``: that would be; nothing is fetched).
        """
        names = check_names(names)
        action = f"install {' '.join(names)}"
        if not names:
            return Change(False, action)
        manager = await self.manager()
        script = install_script(manager, names, update=update, check=check)
        result = await self._run(script, timeout, f"{manager} install {' '.join(names)}")
        done = markers(result.stdout, "installed")
        return Change(bool(done), action, " ".join(done))

    async def _run(self, script: str, timeout: float, command: str) -> CommandResult:
        """Run a package script; a failure raises the package error (locked: retryable;
        otherwise ``command`` in one line and the end of stderr, not the whole script)."""
        result = await self._runner.script(script, timeout=timeout, check=False)
        if not result.ok:
            raise package_failure(self._runner.host_name, result, command, LOCK_WAIT)
        return result

    async def repair(
        self, *, lock_wait: float = LOCK_WAIT, timeout: float = _INSTALL_TIMEOUT
    ) -> Change:
        """Finish package transactions a previous attempt left half done (apt hosts:
        ``dpkg --configure -a``, waiting up to ``lock_wait`` seconds for the dpkg lock).

        Changed when something was pending; the detail names the packages configured.
        Raises PackageManagerLockedError (retryable) if the lock stays taken.
        """
        action = "finish interrupted package transactions"
        if await self.manager() != "apt":
            return Change(False, action)
        result = await self._runner.script(repair_script(lock_wait), timeout=timeout, check=False)
        if not result.ok:
            raise package_failure(self._runner.host_name, result, "dpkg --configure -a", lock_wait)
        done = markers(result.stdout, "configured")
        return Change(bool(done), action, "configured " + " ".join(done) if done else "")

    async def remove(
        self, names: Sequence[str], *, timeout: float = _INSTALL_TIMEOUT, check: bool = False
    ) -> Change:
        """Remove those of ``names`` that are installed."""
        names = check_names(names)
        action = f"remove {' '.join(names)}"
        if not names:
            return Change(False, action)
        manager = await self.manager()
        result = await self._run(
            remove_script(manager, names, check=check),
            timeout,
            f"{manager} remove {' '.join(names)}",
        )
        done = markers(result.stdout, "removed")
        return Change(bool(done), action, " ".join(done))

    async def install_files(
        self, files: Sequence[Path], *, timeout: float = _INSTALL_TIMEOUT, check: bool = False
    ) -> Change:
        """Upload package files (.deb for apt, .rpm for dnf/yum) and install them offline.

        Files whose package is already installed at the same version are skipped; the
        others are installed together, so they may depend on each other. ``check`` uploads
        them to a temporary directory all the same (the package manager reads name and
        version from the files themselves), installs nothing and removes the directory.
        """
        manager = await self.manager()
        suffix = _FILE_SUFFIX[manager]
        action = f"install {' '.join(path.name for path in files)}"
        if not files:
            return Change(False, action)
        for path in files:
            if path.suffix != suffix:
                raise ValueError(f"{path} is not a {suffix} file, which {manager} installs")
            if not path.is_file():
                raise FileNotFoundError(f"package file {path} does not exist")
        # In the run's own directory: the run removes it, a later run sweeps it if this one
        # is killed (no clean-up round trip here, which a lost host could not answer anyway).
        directory = f"{self._runner.temp_dir}/packages-{secrets.token_hex(4)}"
        await self._runner.require_space(
            self._runner.temp_dir, sum(path.stat().st_size for path in files)
        )
        for index, path in enumerate(files):
            await self._runner.connector.put(path, f"{directory}/{index}{suffix}", mode=0o644)
        names = " ".join(path.name for path in files)
        result = await self._run(
            install_files_script(manager, directory, len(files), suffix, check=check),
            timeout,
            f"{manager} install {names}",
        )
        done = markers(result.stdout, "installed")
        return Change(bool(done), action, " ".join(done))
