"""Faults around the API endpoint's load balancer (fleet tier).

- The virtual IP's holder loses its network link: the other ``loadbalancer`` host takes the
  address within 10 s and the endpoint answers; when the link is back, exactly one host holds
  the address (no split brain) and it stays where it went (no second move).
- A proxy's configuration damaged by hand on one worker: the rerun puts the validated one back
  with a reload (the proxy keeps its PID) and changes nothing on the other hosts.
"""

from __future__ import annotations

import asyncio
import ipaddress
import subprocess
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from tests.leasing import HostPool
from tests.loadbalancer_bench import DOMAIN, Bench, clean, internal, loadbalancer_bench, wait_until

pytestmark = pytest.mark.fleet


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def bench(
    fleet_pool: HostPool, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Bench]:
    directory = tmp_path_factory.mktemp("loadbalancer-faults")
    async with loadbalancer_bench(fleet_pool, directory, __name__) as made:
        yield made


async def test_the_vip_holder_loses_its_link(bench: Bench) -> None:
    names = bench.names
    balancers = names[3:]
    vip = str(ipaddress.ip_network(bench.hosts.fleet.subnet, strict=False).broadcast_address - 6)

    def edit(document: dict[str, Any]) -> None:
        document["spec"]["roleGroups"] = {
            "master": names[:2],
            "etcd": names[:1],
            "worker": names[2:3],
            "loadbalancer": balancers,
        }
        document["spec"]["controlPlaneEndpoint"] = {
            "domain": DOMAIN,
            "address": vip,
            "loadBalancer": {"type": "external", "kind": "nginx"},
        }

    async def holders() -> list[str]:
        # A host whose link is down may keep the address configured: count only live links.
        found = []
        for name in balancers:
            out = await bench.run(name, f"ip -o addr show to {vip}; ip -o link show up dev eth0")
            if vip in out and "state UP" in out:
                found.append(name)
        return found

    def answers() -> bool:
        result = subprocess.run(
            ["curl", "-sk", "--max-time", "2", f"https://{vip}:6443/who"],
            capture_output=True,
            text=True,
        )
        return result.returncode == 0 and result.stdout.strip() in names[:2]

    async def one_holder() -> bool:
        return len(await holders()) == 1

    async with clean(bench):
        await bench.apply(bench.cluster(edit, "external-faults.yaml"))
        await wait_until(one_holder, f"one host holds {vip}", 15)
        (first,) = await holders()
        (other,) = [name for name in balancers if name != first]
        await wait_until(lambda: asyncio.to_thread(answers), f"{vip} answers", 15)
        try:
            await bench.run(first, "ip link set eth0 down")

            async def other_holds() -> bool:
                return await holders() == [other]

            await wait_until(other_holds, f"{other} takes {vip}", 10)
            await wait_until(lambda: asyncio.to_thread(answers), f"{vip} answers again", 10)
        finally:
            await bench.run(first, "ip link set eth0 up")
        await asyncio.sleep(6)
        assert await holders() == [other], "after the link came back"
        assert await asyncio.to_thread(answers)


async def test_a_damaged_proxy_config_is_repaired_with_a_reload(bench: Bench) -> None:
    victim, spared = bench.names[3], bench.names[4]
    path = "/etc/kubexms/loadbalancer/haproxy.cfg"
    async with clean(bench):
        cluster = bench.cluster(internal(bench, "haproxy", 2), "internal-faults.yaml")
        await bench.apply(cluster)
        pid = await bench.main_pid(victim)
        await bench.run(victim, f"echo 'this is not haproxy' >> {path}")
        repaired = await bench.apply(cluster)
        # The proxy on the victim is the only thing that changed (written, then reloaded).
        assert repaired.counts.get("changed", 0) == 1, repaired.counts
        assert "this is not haproxy" not in await bench.run(victim, f"cat {path}")
        assert await bench.main_pid(victim) == pid
        answers = await bench.requests(victim, f"https://{DOMAIN}:6443", 2)
        assert "FAILED" not in answers
        assert set(answers) <= set(bench.names[:2])
        assert await bench.main_pid(spared) > 0
