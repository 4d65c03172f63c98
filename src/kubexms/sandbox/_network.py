"""The fleet's network: a bridge in the root namespace and one network namespace per host.

Every fleet gets its own block of 10.213.0.0/16 and names derived from that block (bridge
``kxms<N>``, host namespaces ``kxms<N>-<host>``, veths ``kxms<N>v<i>``), so fleets in different
directories coexist. Hosts get no default route. An ``unreachable`` route for the block stays in
the root namespace for the fleet's whole life, so traffic for the block can never leave through
the machine's real interface, whatever state the bridge is in. Forwarding is disabled on the
bridge: packets from hosts are never routed beyond this machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
from collections.abc import Sequence
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

from kubexms.sandbox._command import run_tool
from kubexms.sandbox._errors import SandboxError
from kubexms.sandbox._machine_lock import machine_lock

__all__ = [
    "FLEET_RANGE",
    "FleetNetwork",
    "HostLink",
    "allocate_network",
    "create_bridge",
    "create_host_links",
    "remove_network",
    "subnet_prefixlen",
]

FLEET_RANGE = IPv4Network("10.213.0.0/16")
# Highest metric: the bridge's connected route (metric 0) wins while it exists.
UNREACHABLE_METRIC = 4294967295


@dataclass(frozen=True)
class FleetNetwork:
    """The addresses and link names of one fleet."""

    subnet: IPv4Network
    prefix: str

    @property
    def gateway(self) -> IPv4Address:
        """The bridge's address: the machine as the hosts see it."""
        return self.subnet.network_address + 1

    @property
    def bridge(self) -> str:
        """Name of the fleet's bridge in the root namespace."""
        return self.prefix

    def host_address(self, index: int) -> IPv4Address:
        """Address of the ``index``-th host (1-based)."""
        address = self.subnet.network_address + 1 + index
        if address >= self.subnet.broadcast_address:
            raise SandboxError(f"host {index} does not fit into {self.subnet}")
        return address

    def netns_name(self, host: str) -> str:
        """Name of a host's network namespace."""
        return f"{self.prefix}-{host}"

    def veth_name(self, index: int) -> str:
        """Name of the root-namespace end of a host's veth pair."""
        return f"{self.prefix}v{index}"


@dataclass(frozen=True)
class HostLink:
    """What connects one host to the bridge."""

    netns: str
    veth: str
    address: IPv4Address


def subnet_prefixlen(count: int) -> int:
    """Smallest block for ``count`` hosts plus network, bridge and broadcast addresses; >= /24."""
    prefixlen = 24
    while 2 ** (32 - prefixlen) < count + 3:
        prefixlen -= 1
    if prefixlen < FLEET_RANGE.prefixlen:
        raise SandboxError(f"{count} hosts do not fit into {FLEET_RANGE}")
    return prefixlen


async def _ip_json(*args: str) -> list[dict[str, object]]:
    result = await run_tool(["ip", "-j", *args], what="reading the network configuration")
    text = result.stdout.strip()
    if not text:
        return []
    data = json.loads(text)
    return data if isinstance(data, list) else []


async def _used_networks() -> list[IPv4Network]:
    used: list[IPv4Network] = []
    for route in await _ip_json("-4", "route", "show", "table", "all"):
        dst = route.get("dst")
        if isinstance(dst, str) and dst != "default":
            with contextlib.suppress(ValueError):
                used.append(IPv4Network(dst, strict=False))
    for link in await _ip_json("-4", "addr", "show"):
        for info in link.get("addr_info", []) or []:  # type: ignore[attr-defined]
            if isinstance(info, dict) and "local" in info:
                used.append(IPv4Network(f"{info['local']}/{info.get('prefixlen', 32)}", False))
    return used


async def _taken_names() -> set[str]:
    names: set[str] = set()
    for link in await _ip_json("link", "show"):
        name = link.get("ifname")
        if isinstance(name, str):
            names.add(name)
    result = await run_tool(["ip", "netns", "list"], what="listing network namespaces")
    names.update(line.split()[0] for line in result.stdout.splitlines() if line.strip())
    return names


def _prefix_in_use(prefix: str, names: set[str]) -> bool:
    return any(n == prefix or n.startswith((f"{prefix}-", f"{prefix}v")) for n in names)


async def allocate_network(count: int) -> FleetNetwork:
    """Pick a free block for ``count`` hosts and claim it with the unreachable route."""
    prefixlen = subnet_prefixlen(count)
    async with machine_lock():
        used = await _used_networks()
        names = await _taken_names()
        for block in FLEET_RANGE.subnets(new_prefix=prefixlen):
            if any(block.overlaps(network) for network in used):
                continue
            prefix = f"kxms{block.network_address.packed[2]}"
            if _prefix_in_use(prefix, names):
                continue
            await run_tool(
                [
                    "ip",
                    "route",
                    "add",
                    "unreachable",
                    str(block),
                    "metric",
                    str(UNREACHABLE_METRIC),
                ],
                what=f"claiming {block} for the fleet",
            )
            return FleetNetwork(subnet=block, prefix=prefix)
    raise SandboxError(
        f"no free /{prefixlen} left in {FLEET_RANGE} for {count} hosts; "
        "take other fleets down first (kubexms sandbox down --dir ...)"
    )


def _write_sysctl(path: str, value: str) -> None:
    Path(path).write_text(value)


async def create_bridge(network: FleetNetwork) -> None:
    """Create the fleet's bridge with the gateway address; never forward from it."""
    bridge = network.bridge
    batch = "\n".join(
        [
            f"link add name {bridge} type bridge",
            f"link set {bridge} addrgenmode none",
            f"addr add {network.gateway}/{network.subnet.prefixlen} dev {bridge}",
            f"link set {bridge} up",
        ]
    )
    await run_tool(["ip", "-batch", "-"], stdin=batch.encode(), what=f"creating bridge {bridge}")
    # Packets a host sends to a foreign address arrive here; they must never be routed onwards.
    _write_sysctl(f"/proc/sys/net/ipv4/conf/{bridge}/forwarding", "0")


async def create_host_links(network: FleetNetwork, links: Sequence[HostLink]) -> None:
    """Create each host's namespace and veth pair, and address it inside (no default route)."""
    root_batch: list[str] = []
    for link in links:
        root_batch += [
            f"netns add {link.netns}",
            f"link add {link.veth} type veth peer name eth0 netns {link.netns}",
            f"link set {link.veth} addrgenmode none",
            f"link set {link.veth} master {network.bridge} up",
        ]
    await run_tool(
        ["ip", "-batch", "-"],
        stdin="\n".join(root_batch).encode(),
        what="creating the hosts' network namespaces",
    )
    prefixlen = network.subnet.prefixlen

    async def configure(link: HostLink) -> None:
        inside = "\n".join(
            [
                "link set lo up",
                "link set eth0 addrgenmode none",
                f"addr add {link.address}/{prefixlen} dev eth0",
                "link set eth0 up",
            ]
        )
        await run_tool(
            ["ip", "-n", link.netns, "-batch", "-"],
            stdin=inside.encode(),
            what=f"addressing {link.netns}",
        )

    semaphore = asyncio.Semaphore(16)

    async def bounded(link: HostLink) -> None:
        async with semaphore:
            await configure(link)

    await asyncio.gather(*(bounded(link) for link in links))


async def remove_network(
    *, subnet: str, bridge: str, netns_names: Sequence[str], veth_names: Sequence[str]
) -> list[str]:
    """Delete namespaces, veths, the bridge and the route; return what could not be removed."""
    names = await _taken_names()
    batch: list[str] = [f"netns delete {ns}" for ns in netns_names if ns in names]
    batch += [f"link delete {veth}" for veth in veth_names if veth in names]
    if bridge in names:
        batch.append(f"link delete {bridge}")
    if batch:
        # -force: keep going past an entry that vanished meanwhile; what remains is checked below.
        await run_tool(
            ["ip", "-force", "-batch", "-"], stdin="\n".join(batch).encode(), check=False
        )
    # The unreachable route goes last: until the bridge is gone it keeps traffic inside.
    for route in await _ip_json("-4", "route", "show", "table", "main"):
        if route.get("type") == "unreachable" and route.get("dst") == subnet:
            await run_tool(
                ["ip", "route", "del", "unreachable", subnet, "metric", str(UNREACHABLE_METRIC)],
                check=False,
            )
    left: list[str] = []
    names = await _taken_names()
    left += [f"network namespace {ns}" for ns in netns_names if ns in names]
    left += [f"link {veth}" for veth in veth_names if veth in names]
    if bridge in names:
        left.append(f"bridge {bridge}")
    for route in await _ip_json("-4", "route", "show", "table", "main"):
        if route.get("type") == "unreachable" and route.get("dst") == subnet:
            left.append(f"route unreachable {subnet}")
    return left


def parse_subnet(text: str) -> IPv4Network:
    """Parse a recorded subnet, refusing anything outside the fleet range."""
    try:
        subnet = ipaddress.IPv4Network(text)
    except ValueError as exc:
        raise SandboxError(f"recorded subnet {text!r} is not an IPv4 network") from exc
    if not subnet.subnet_of(FLEET_RANGE):
        raise SandboxError(f"recorded subnet {subnet} is outside {FLEET_RANGE}")
    return subnet
