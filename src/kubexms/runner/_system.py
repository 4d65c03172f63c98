"""``runner.system``: kernel parameters and modules, swap, hostname, timezone."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from kubexms.runner._change import Change, SysctlChange
from kubexms.runner._errors import KernelModuleMissingError, RunnerError, SysctlError
from kubexms.runner._file_sync import FileSpec, build_tar, file_changes, sync_script
from kubexms.runner._script import check_path, check_prelude, markers, quote

if TYPE_CHECKING:
    from kubexms.runner._runner import Runner

_SYSCTL_KEY = re.compile(r"[A-Za-z0-9_-]+([./][A-Za-z0-9_-]+)*")
_MODULE = re.compile(r"[A-Za-z0-9_-]+")
_HOST_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_TIMEZONE = re.compile(r"[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*")
SYSCTL_FILE = "/etc/sysctl.d/99-kubexms.conf"
MODULES_FILE = "/etc/modules-load.d/kubexms.conf"
FSTAB = "/etc/fstab"

# A built-in module has no /sys/module entry unless it takes parameters; these show
# themselves another way (trusted shell text, run as a condition).
_BUILT_IN_SIGNS = {
    "br_netfilter": "[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]",
    "ip_vs": "[ -e /proc/sys/net/ipv4/vs ]",
    "nf_conntrack": "[ -e /proc/sys/net/netfilter/nf_conntrack_max ]",
    "overlay": "grep -q '[[:space:]]overlay$' /proc/filesystems",
    "bridge": "[ -e /sys/class/net/bridge ] || [ -d /sys/module/bridge ]",
}

_SYSCTL_FUNCTION = r"""
kx_sysctl() { # KEY PROC_PATH WANTED
  [ -e "$2" ] || { echo "@kxms:unknown $1"; return 0; }
  cur=$(tr -s ' \t' '  ' < "$2")
  [ "$cur" = "$3" ] && return 0
  if [ ! -w "$2" ]; then echo "@kxms:deferred $1"; return 0; fi
  if [ "$kx_check" = 1 ]; then echo "@kxms:applied $1"; return 0; fi
  if printf '%s\n' "$3" > "$2" 2>/dev/null; then echo "@kxms:applied $1"
  else echo "@kxms:refused $1"; fi
}
"""

# A module is present when loaded or built in: built-in ones show in modules.builtin where
# the distribution ships it, else by their signs (simulated hosts and containers have
# neither /sys/module entries for them nor /lib/modules).
_PRESENT_FUNCTION = r"""
kx_present() { # NAME [BUILT_IN_TEST]
  u=$(printf '%s' "$1" | tr - _)
  [ -d "/sys/module/$u" ] && return 0
  grep -q "^$u " /proc/modules 2>/dev/null && return 0
  b="/lib/modules/$(uname -r)/modules.builtin"
  [ -f "$b" ] && grep -q "/$u\.ko" "$b" && return 0
  [ -n "$2" ] && sh -c "$2" 2>/dev/null
}
kx_loadable() { command -v modprobe >/dev/null 2>&1 && modprobe -n -q -- "$1" 2>/dev/null; }
"""

_MODULE_FUNCTION = (
    _PRESENT_FUNCTION
    + r"""
kx_module() { # NAME [BUILT_IN_TEST]
  kx_present "$1" "$2" && return 0
  if [ "$kx_check" = 1 ] && kx_loadable "$1"; then echo "@kxms:loaded $1"; return 0; fi
  if [ "$kx_check" = 0 ] && command -v modprobe >/dev/null 2>&1 && modprobe -- "$1" >&2; then
    echo "@kxms:loaded $1"; return 0
  fi
  echo "@kxms:missing $1"; kx_abort=1
}
"""
)


def _built_in_sign(name: str) -> str:
    return quote(_BUILT_IN_SIGNS.get(name.replace("-", "_"), ""))


def absent_modules_script(modules: Sequence[str], *, or_loadable: bool = False) -> str:
    """A read-only script printing ``absent NAME`` for each module neither loaded nor built
    in (nor, with ``or_loadable``, loadable by modprobe); parse it with absent_modules.

    For steps that fold this probe into a larger read-only command (one round trip).
    """
    lines = [_PRESENT_FUNCTION]
    for name in check_modules(modules):
        loadable = f" || kx_loadable {quote(name)}" if or_loadable else ""
        present = f"kx_present {quote(name)} {_built_in_sign(name)}{loadable}"
        lines.append(f"{present} || echo absent {quote(name)}")
    return "\n".join(lines)


def absent_modules(output: str) -> list[str]:
    """The modules an absent_modules_script run reported absent."""
    return [line.split()[1] for line in output.splitlines() if line.startswith("absent ")]


def sysctl_path(key: str) -> str:
    """The /proc/sys file of a key; like sysctl(8), dots and slashes trade places."""
    swapped = key.translate(str.maketrans("./", "/."))
    return f"/proc/sys/{swapped}"


def check_sysctl(values: Mapping[str, str | int]) -> dict[str, str]:
    checked: dict[str, str] = {}
    for key, value in values.items():
        if not _SYSCTL_KEY.fullmatch(key):
            raise ValueError(f"{key!r} is not a sysctl key")
        text = " ".join(str(value).split())
        if not text or any(c in str(value) for c in "\r\n\x00"):
            raise ValueError(f"sysctl {key}: value {value!r} is empty or spans lines")
        checked[key] = text
    return checked


def check_modules(modules: Sequence[str]) -> list[str]:
    if isinstance(modules, str):
        raise TypeError("pass a list of module names, not one string")
    bad = [name for name in modules if not _MODULE.fullmatch(name)]
    if bad:
        raise ValueError(f"not a kernel module name: {', '.join(map(repr, bad))}")
    return list(modules)


def check_hostname(name: str) -> str:
    labels = name.split(".")
    if len(name) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        raise ValueError(
            f"{name!r} is not a valid hostname (lower-case letters, digits and dashes, "
            "dot-separated labels of at most 63 characters)"
        )
    return name


class System:
    """Host-wide settings. Each returns a Change; persistent files are written atomically."""

    def __init__(self, runner: Runner) -> None:
        self._runner = runner

    async def sysctl(
        self,
        values: Mapping[str, str | int],
        *,
        file: str | None = SYSCTL_FILE,
        check: bool = False,
    ) -> SysctlChange:
        """Set kernel parameters now and at boot (``file`` holds exactly ``values``; None:
        only now, e.g. to put back the values a failed change replaced).

        Keys are checked first: one the kernel does not know raises SysctlError and nothing
        is written. A key whose /proc/sys entry is read-only here (a container or simulated
        host: only ``net.*`` is writable) is persisted and listed in ``deferred`` instead of
        failing. A value the kernel refuses raises SysctlError (the file is kept). The detail
        names the keys applied now and the file's diff; ``check`` only says so (a value the
        kernel would refuse shows only in the real run).
        """
        checked = check_sysctl(values)
        content = "# Managed by kubexms.\n" + "".join(f"{k} = {v}\n" for k, v in checked.items())
        specs = [] if file is None else [FileSpec(check_path(file), content.encode())]
        known = "\n".join(
            f'[ -e {quote(sysctl_path(k))} ] || {{ echo "@kxms:unknown {k}"; kx_abort=1; }}'
            for k in checked
        )
        apply = "\n".join(
            f"kx_sysctl {quote(k)} {quote(sysctl_path(k))} {quote(v)}" for k, v in checked.items()
        )
        script = sync_script(
            specs,
            before=known,
            after=_SYSCTL_FUNCTION + apply,
            check=check,
            temp_root=self._runner.temp_dir,
        )
        result = await self._runner.script(script, stdin=build_tar(specs))
        host = self._runner.host_name
        unknown = markers(result.stdout, "unknown")
        if unknown:
            raise SysctlError(host, unknown[0], "no such kernel parameter on this host")
        refused = markers(result.stdout, "refused")
        if refused:
            raise SysctlError(host, refused[0], f"the kernel refused {checked[refused[0]]!r}")
        written = file_changes(specs, result.stdout)
        wrote = any(change.changed for change in written)
        applied = markers(result.stdout, "applied")
        deferred = tuple(markers(result.stdout, "deferred"))
        detail = []
        if wrote:
            detail.append(f"{file}: {written[0].detail}")
        if applied:
            detail.append(f"applied {' '.join(applied)}")
        if deferred:
            detail.append(f"read-only now, at boot: {' '.join(deferred)}")
        return SysctlChange(
            wrote or bool(applied), f"sysctl {' '.join(checked)}", "; ".join(detail), deferred
        )

    async def sysctl_values(self, keys: Sequence[str]) -> dict[str, str | None]:
        """The live values of kernel parameters, as sysctl(8) shows them (None: the host has
        no such key), in one round trip; for saving what a change may need to put back."""
        checked = list(check_sysctl(dict.fromkeys(keys, "0")))
        lines = [
            f'p={quote(sysctl_path(k))}; [ ! -e "$p" ] || '
            f"echo \"@kxms:value {k} $(tr -s ' \\t' '  ' < \"$p\" | base64 -w0)\""
            for k in checked
        ]
        result = await self._runner.script("\n".join(lines))
        found: dict[str, str | None] = dict.fromkeys(checked)
        for value in markers(result.stdout, "value"):
            key, _, encoded = value.partition(" ")
            found[key] = base64.b64decode(encoded).decode(errors="replace").strip()
        return found

    async def kernel_modules(
        self, modules: Sequence[str], *, file: str = MODULES_FILE, check: bool = False
    ) -> Change:
        """Make ``modules`` loaded now and at boot (``file`` lists exactly them).

        A module built into the kernel counts as loaded. One that is neither built in nor
        loadable raises KernelModuleMissingError naming it, before anything is written
        (``check`` too: it asks ``modprobe -n`` instead of loading).
        """
        names = check_modules(modules)
        file = check_path(file)
        spec = FileSpec(file, "".join(f"{name}\n" for name in names).encode())
        load = "\n".join(f"kx_module {quote(name)} {_built_in_sign(name)}" for name in names)
        script = sync_script(
            [spec],
            before=f"{_MODULE_FUNCTION}\n{load}",
            check=check,
            temp_root=self._runner.temp_dir,
        )
        result = await self._runner.script(script, stdin=build_tar([spec]))
        missing = markers(result.stdout, "missing")
        if missing:
            raise KernelModuleMissingError(
                self._runner.host_name, missing, "neither built into the kernel nor loadable"
            )
        loaded = markers(result.stdout, "loaded")
        (written,) = file_changes([spec], result.stdout)
        wrote = written.changed
        detail = []
        if loaded:
            detail.append(f"loaded {' '.join(loaded)}")
        if wrote:
            detail.append(f"{file}: {written.detail}")
        return Change(bool(loaded) or wrote, f"kernel modules {' '.join(names)}", "; ".join(detail))

    async def swap_off(self, *, fstab: str = FSTAB, check: bool = False) -> Change:
        """Turn swap off now and comment out swap entries in ``fstab``."""
        fstab = check_path(fstab)
        script = f"""set -e
{check_prelude(check)}
f={quote(fstab)}
kx_done=""
if [ -r /proc/swaps ] && [ "$(wc -l < /proc/swaps)" -gt 1 ]; then
  kx_act swapoff -a >&2; kx_done="swapoff"
fi
kx_fstab() {{
  awk '!/^[[:space:]]*#/ && $3 == "swap" {{ print "# " $0 "  # swap disabled by kubexms"; next }}
       {{ print }}' "$f"
}}
if [ -f "$f" ] && ! kx_fstab | cmp -s -- "$f" -; then
  kx_done="$kx_done fstab"
  if [ "$kx_check" = 0 ]; then
    tmp="$(dirname -- "$f")/.fstab.kubexms-$$"
    trap 'rm -f -- "$tmp"' EXIT
    cp -p -- "$f" "$tmp"
    kx_fstab > "$tmp"
    mv -f -T -- "$tmp" "$f"
  fi
fi
echo "@kxms:done $kx_done"
"""
        return await self._simple(f"swap off (and in {fstab})", script)

    async def hostname(self, name: str, *, check: bool = False) -> Change:
        """Set the hostname now and in /etc/hostname."""
        name = check_hostname(name)
        script = f"""set -e
{check_prelude(check)}
n={quote(name)}
kx_done=""
if [ "$(hostname)" != "$n" ]; then
  kx_done="hostname $(hostname) -> $n"
  if [ "$kx_check" = 0 ]; then
    hostname "$n" 2>/dev/null || hostnamectl set-hostname --transient "$n" >&2
  fi
fi
if [ "$(cat /etc/hostname 2>/dev/null || true)" != "$n" ]; then
  kx_done="$kx_done; /etc/hostname"
  if [ "$kx_check" = 0 ]; then
    printf '%s\\n' "$n" > /etc/.hostname.kubexms-$$
    chmod 644 /etc/.hostname.kubexms-$$
    mv -f -T /etc/.hostname.kubexms-$$ /etc/hostname
  fi
fi
echo "@kxms:done ${{kx_done#; }}"
"""
        return await self._simple(f"hostname {name}", script)

    async def timezone(self, name: str, *, check: bool = False) -> Change:
        """Point /etc/localtime at the zone (and /etc/timezone, where the host has one)."""
        if not _TIMEZONE.fullmatch(name) or ".." in name:
            raise ValueError(f"{name!r} is not a timezone name such as Europe/Berlin or UTC")
        script = f"""set -e
{check_prelude(check)}
n={quote(name)}
z="/usr/share/zoneinfo/$n"
[ -f "$z" ] || {{ echo "@kxms:unknown"; exit 0; }}
kx_done=""
if [ "$(readlink /etc/localtime 2>/dev/null || true)" != "$z" ]; then
  kx_done="/etc/localtime"
  if [ "$kx_check" = 0 ]; then
    ln -s -f -n -- "$z" /etc/.localtime.kubexms-$$
    mv -f -T /etc/.localtime.kubexms-$$ /etc/localtime
  fi
fi
if [ -f /etc/timezone ] && [ "$(cat /etc/timezone)" != "$n" ]; then
  kx_done="$kx_done /etc/timezone"
  if [ "$kx_check" = 0 ]; then
    printf '%s\\n' "$n" > /etc/.timezone.kubexms-$$
    chmod 644 /etc/.timezone.kubexms-$$
    mv -f -T /etc/.timezone.kubexms-$$ /etc/timezone
  fi
fi
echo "@kxms:done $kx_done"
"""
        result = await self._runner.script(script)
        if markers(result.stdout, "unknown"):
            raise RunnerError(self._runner.host_name, f"timezone {name!r} is not installed")
        done = " ".join(" ".join(markers(result.stdout, "done")).split())
        return Change(bool(done), f"timezone {name}", done)

    async def _simple(self, action: str, script: str) -> Change:
        result = await self._runner.script(script)
        done = " ".join(" ".join(markers(result.stdout, "done")).split())
        return Change(bool(done), action, done)
