"""The package manager's own state: its lock, and transactions a previous attempt left open.

A kill or a dropped connection can leave the previous attempt's apt or dpkg running on the
host (it holds the dpkg lock) or stopped half way (packages unpacked but not configured).
Package operations therefore wait, bounded, for the lock, and report "locked" as a retryable
error; ``repair`` finishes half-done transactions and says what it configured.
"""

from __future__ import annotations

from kubexms.connector import CommandResult
from kubexms.runner._errors import PackageCommandError, PackageManagerLockedError
from kubexms.runner._script import markers

LOCK_WAIT = 300.0
"""Seconds a package operation waits for another process's package manager lock."""

# What apt, dpkg, dnf and yum print when another process holds their lock.
LOCK_MESSAGES = (
    "Could not get lock",
    "dpkg frontend lock",
    "dpkg status database is locked",
    "Unable to acquire the dpkg frontend lock",
    "Waiting for process with pid",
    "Another app is currently holding the yum lock",
)

# ``kx_locked_retry SECONDS CMD...`` runs CMD until it does not fail on the package lock
# (dpkg itself does not wait for it, unlike apt with DPkg::Lock::Timeout); past SECONDS it
# prints ``@kxms:locked`` and fails.
_LOCKED_RETRY = r"""kx_locked_retry() {
  kx_wait=$1; shift; kx_until=$(( $(date +%s) + kx_wait ))
  while :; do
    kx_rc=0; kx_out=$("$@" 2>&1) || kx_rc=$?
    printf '%s\n' "$kx_out" >&2
    [ "$kx_rc" -ne 0 ] || return 0
    case "$kx_out" in
      *"dpkg frontend lock"*|*"Could not get lock"*|*"status database is locked"*) ;;
      *) return "$kx_rc" ;;
    esac
    if [ "$(date +%s)" -ge "$kx_until" ]; then echo "@kxms:locked"; return "$kx_rc"; fi
    sleep 1
  done
}"""

# Packages whose dpkg status is neither installed, config-files nor not-installed: unpacked,
# half-installed, half-configured or waiting on triggers; but not those dpkg marked
# reinstall-required (error flag R: e.g. the disk filled while it unpacked them), which
# ``--configure`` cannot finish and only installing the package file again repairs.
_PENDING = (
    "dpkg-query -W -f='${db:Status-Abbrev} ${Package}\\n' 2>/dev/null"
    " | awk 'substr($1, 2, 1) ~ /[HUFWt]/ && substr($1, 3, 1) != \"R\" {print $2}'"
)
_REINSTALL_REQUIRED = (
    "dpkg-query -W -f='${db:Status-Abbrev} ${Package}\\n' 2>/dev/null"
    " | awk 'substr($1, 3, 1) == \"R\" {print $2}'"
)


def repair_script(lock_wait: float) -> str:
    """Finish what dpkg left half done (``dpkg --configure -a``); prints ``@kxms:configured
    NAME`` for each package that was pending and is installed now.

    dpkg fails ``--configure -a`` on a package marked reinstall-required; that failure alone
    does not fail the repair (installing the package's file again, which the install does
    for any package not installed at its version, is what repairs it)."""
    return "\n".join(
        [
            "set -e",
            _LOCKED_RETRY,
            f"kx_pending=$({_PENDING})",
            # A pending trigger alone still needs --configure -a; without anything pending
            # dpkg is not run at all (it would take the lock for nothing).
            '[ -n "$kx_pending" ] || exit 0',
            f"kx_reinstall=$({_REINSTALL_REQUIRED})",
            "kx_status=0",
            f"kx_locked_retry {int(lock_wait)} dpkg --configure -a || kx_status=$?",
            "kx_left=",
            "for p in $kx_pending; do",
            "  s=$(dpkg-query -W -f='${db:Status-Abbrev}' \"$p\" 2>/dev/null || true)",
            '  case "$s" in ?i*) echo "@kxms:configured $p" ;; *) kx_left="$kx_left $p" ;; esac',
            "done",
            'if [ "$kx_status" -ne 0 ] && { [ -n "$kx_left" ] || [ -z "$kx_reinstall" ]; }; then',
            '  exit "$kx_status"',
            "fi",
        ]
    )


def package_failure(
    host: str, result: CommandResult, command: str, lock_wait: float
) -> PackageCommandError | PackageManagerLockedError:
    """The error for a package script that failed: locked (retryable) or the command's own."""
    if markers(result.stdout, "locked") or any(text in result.stderr for text in LOCK_MESSAGES):
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        detail = next(
            (line.strip() for line in reversed(lines) if any(t in line for t in LOCK_MESSAGES)),
            "locked",
        )
        return PackageManagerLockedError(host, lock_wait, detail)
    return PackageCommandError(host, command, result.exit_code, result.stderr)
