"""Host facts: what a machine is, gathered in one round trip and parsed here."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from kubexms._errors import KubexmsError

# One POSIX sh script prints every fact as KEY=VALUE, so gathering costs one round trip.
# Each probe tolerates a missing tool: a minimal host still yields the facts it can.
FACTS_SCRIPT = r"""
os_id=""; os_version=""; os_name=""
if [ -r /etc/os-release ]; then
  . /etc/os-release
  os_id="${ID:-}"; os_version="${VERSION_ID:-}"; os_name="${PRETTY_NAME:-}"
fi
echo "os_id=$os_id"
echo "os_version=$os_version"
echo "os_name=$os_name"
echo "kernel=$(uname -r)"
echo "machine=$(uname -m)"
echo "hostname=$(hostname 2>/dev/null || cat /proc/sys/kernel/hostname)"
echo "cpus=$(nproc 2>/dev/null || grep -c ^processor /proc/cpuinfo)"
echo "memory_kib=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)"
if [ -d /run/systemd/system ]; then init=systemd; else init=$(cat /proc/1/comm 2>/dev/null); fi
echo "init=$init"
pm=""
for candidate in apt-get dnf yum zypper apk; do
  if command -v "$candidate" >/dev/null 2>&1; then pm="$candidate"; break; fi
done
echo "package_manager=$pm"
ipv4=""
if command -v ip >/dev/null 2>&1; then
  dev=$(ip -4 route show default 2>/dev/null \
    | awk '{for (i=1;i<NF;i++) if ($i=="dev") {print $(i+1); exit}}')
  if [ -n "$dev" ]; then
    ipv4=$(ip -4 -o addr show dev "$dev" scope global 2>/dev/null \
      | awk '{split($4,a,"/"); print a[1]; exit}')
  fi
  if [ -z "$ipv4" ]; then
    ipv4=$(ip -4 -o addr show scope global 2>/dev/null | awk '{split($4,a,"/"); print a[1]; exit}')
  fi
fi
if [ -z "$ipv4" ]; then ipv4=$(hostname -I 2>/dev/null | awk '{print $1}'); fi
echo "default_ipv4=$ipv4"
"""

# uname -m spellings mapped to the architecture names release artifacts use.
_ARCH_NAMES = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "arm",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}

_PACKAGE_MANAGERS = {"apt-get": "apt", "dnf": "dnf", "yum": "yum", "zypper": "zypper", "apk": "apk"}


class FactsParseError(ValueError, KubexmsError):
    """The facts script printed something we cannot read."""


@dataclass(frozen=True, slots=True)
class HostFacts:
    """What a host is. ``arch`` uses release-artifact names (amd64, arm64)."""

    os_id: str
    os_version: str
    os_name: str
    kernel: str
    machine: str
    arch: str
    hostname: str
    cpus: int
    memory_mib: int
    init_system: str
    package_manager: str
    default_ipv4: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_facts(output: str) -> HostFacts:
    """Turn the facts script's KEY=VALUE lines into HostFacts."""
    values: dict[str, str] = {}
    for line in output.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip()
    missing = {"kernel", "machine", "cpus", "memory_kib"} - values.keys()
    if missing:
        raise FactsParseError(f"facts output lacks {', '.join(sorted(missing))}")
    try:
        cpus = int(values["cpus"])
        memory_mib = int(values["memory_kib"]) // 1024
    except ValueError as exc:
        raise FactsParseError(f"facts output has a non-numeric CPU or memory count: {exc}") from exc
    machine = values["machine"]
    return HostFacts(
        os_id=values.get("os_id", ""),
        os_version=values.get("os_version", ""),
        os_name=values.get("os_name", ""),
        kernel=values["kernel"],
        machine=machine,
        arch=_ARCH_NAMES.get(machine, machine),
        hostname=values.get("hostname", ""),
        cpus=cpus,
        memory_mib=memory_mib,
        init_system=values.get("init", "") or "unknown",
        package_manager=_PACKAGE_MANAGERS.get(values.get("package_manager", ""), ""),
        default_ipv4=values.get("default_ipv4", ""),
    )
