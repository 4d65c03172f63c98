"""Which interface the virtual IP goes on: the one holding the host's internal address."""

from __future__ import annotations

import pytest

from kubexms.loadbalancer._steps import InterfaceNotFoundError, interface_holding
from kubexms.testing import cluster_of, memory_runtime

IP_ADDR = "2: eth0@if17    inet 10.213.0.1/24 brd 10.213.0.255 scope global eth0\\\n"


async def test_the_interface_of_the_internal_address() -> None:
    seen: list[str] = []

    def host(name: str, command: str, stdin: bytes) -> str:
        seen.append(command)
        return IP_ADDR

    runtime = await memory_runtime(cluster_of(1), host)
    ctx = runtime.new_context(runtime.hosts[0])
    assert await interface_holding(ctx, "10.213.0.1") == "eth0"
    assert "ip -o addr show to 10.213.0.1" in seen[0]


async def test_no_interface_holds_it() -> None:
    runtime = await memory_runtime(cluster_of(1), lambda name, command, stdin: "")
    ctx = runtime.new_context(runtime.hosts[0])
    with pytest.raises(InterfaceNotFoundError, match=r"loadBalancer\.interface"):
        await interface_holding(ctx, "10.213.0.1")
