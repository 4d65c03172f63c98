"""Host identity and basics: hostname, the managed /etc/hosts block, swap, timezone.

Each precheck only reads the host; each run is one Runner operation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from shlex import quote

from kubexms.engine import Step
from kubexms.runner import Change
from kubexms.runtime import Context

HOSTS_FILE = "/etc/hosts"
HOSTS_MARKER = "kubexms"


class SetHostname(Step):
    """The host's hostname (now and in /etc/hostname) is its name in the cluster file."""

    name = "hostname"
    description = "hostname = the host's name in the cluster file"

    async def precheck(self, ctx: Context) -> bool:
        result = await ctx.runner.must_run("hostname; cat /etc/hostname 2>/dev/null || true")
        lines = result.stdout.splitlines()
        return lines[:2] == [ctx.host.name, ctx.host.name]

    async def run(self, ctx: Context) -> Change | None:
        return await ctx.runner.system.hostname(ctx.host.name)


class HostsFileBlock(Step):
    """A block kubexms owns in /etc/hosts naming every cluster host (and the API endpoint);
    the rest of the file is left as it is."""

    name = "hosts-file"
    description = "managed block in /etc/hosts with every cluster host"

    def __init__(self, entries: Sequence[tuple[str, str]]) -> None:
        self.entries = list(entries)
        width = max((len(address) for address, _ in self.entries), default=0)
        self.block = "".join(f"{address:<{width}} {names}\n" for address, names in self.entries)

    def params(self) -> Mapping[str, object]:
        return {"file": HOSTS_FILE, "entries": [list(entry) for entry in self.entries]}

    async def precheck(self, ctx: Context) -> bool:
        result = await ctx.runner.run(f"cat {HOSTS_FILE}")
        if not result.ok:
            return False
        begin, end = f"# BEGIN {HOSTS_MARKER}", f"# END {HOSTS_MARKER}"
        lines = result.stdout.splitlines()
        if begin not in lines:
            return False
        start = lines.index(begin)
        if end not in lines[start + 1 :]:
            return False
        stop = lines.index(end, start + 1)
        return lines[start + 1 : stop] == self.block.splitlines()

    async def run(self, ctx: Context) -> Change | None:
        return await ctx.runner.files.managed_block(HOSTS_FILE, self.block, marker=HOSTS_MARKER)


def hosts_entries(
    hosts: Sequence[tuple[str, str]], endpoint_domain: str, endpoint_address: str
) -> list[tuple[str, str]]:
    """(address, names) lines: each host by its internal address, then the API endpoint's
    domain (if any) at its address."""
    entries = list(hosts)
    if endpoint_domain and endpoint_address:
        entries.append((endpoint_address, endpoint_domain))
    return entries


# Swap is on if /proc/swaps lists anything, or fstab would turn it on at boot.
_SWAP_PROBE = r"""
echo "active $(awk 'NR > 1' /proc/swaps 2>/dev/null | wc -l)"
echo "fstab $(awk '!/^[[:space:]]*#/ && $3 == "swap"' /etc/fstab 2>/dev/null | wc -l)"
"""


class DisableSwap(Step):
    """Swap off now, and no swap entry left active in /etc/fstab (the kubelet requires it)."""

    name = "swap-off"
    description = "swap off now and at boot"

    async def precheck(self, ctx: Context) -> bool:
        result = await ctx.runner.must_run(_SWAP_PROBE)
        counts = dict(line.split() for line in result.stdout.splitlines() if line.strip())
        return counts.get("active") == "0" and counts.get("fstab") == "0"

    async def run(self, ctx: Context) -> Change | None:
        return await ctx.runner.system.swap_off()


class SetTimezone(Step):
    """/etc/localtime (and /etc/timezone where there is one) name the wanted zone."""

    name = "timezone"

    def __init__(self, zone: str) -> None:
        self.zone = zone
        self.description = f"timezone {zone}"

    def params(self) -> Mapping[str, object]:
        return {"timezone": self.zone}

    async def precheck(self, ctx: Context) -> bool:
        zone = quote(self.zone)
        result = await ctx.runner.run(
            f'[ "$(readlink /etc/localtime)" = /usr/share/zoneinfo/{zone} ] && '
            f'{{ [ ! -f /etc/timezone ] || [ "$(cat /etc/timezone)" = {zone} ]; }}'
        )
        return result.ok

    async def run(self, ctx: Context) -> Change | None:
        return await ctx.runner.system.timezone(self.zone)
