"""The loadbalancer phase on real hosts: haproxy, nginx and keepalived from Debian's .debs,
installed offline from this machine, in front of TLS servers standing in for the API servers.

There is no kube-apiserver here, so every master runs ``openssl s_server -WWW`` on 6443 as a
transient systemd unit; it answers ``/healthz`` (haproxy's check) and ``/who`` (the master's
name). Everything in front of it is what the phase installs.
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
    directory = tmp_path_factory.mktemp("loadbalancer")
    async with loadbalancer_bench(fleet_pool, directory, __name__) as made:
        yield made


async def failover_from_a_worker(bench: Bench, worker: str) -> None:
    """Both masters answer; one stops: every request still succeeds; it returns: it answers."""
    first, second = bench.names[0], bench.names[1]
    url = f"https://{DOMAIN}:6443"
    answers = await bench.requests(worker, url, 2)
    assert set(answers) == {first, second}, answers
    await bench.stop_backend(first)
    answers = await bench.requests(worker, url, 10)
    assert "FAILED" not in answers, answers
    assert set(answers) == {second}
    await bench.start_backend(first)

    async def first_answers() -> bool:
        return first in await bench.requests(worker, url, 1)

    await wait_until(first_answers, f"{first} gets traffic again", 15)


async def test_internal_haproxy_fails_over_reloads_for_a_new_master_and_reruns_clean(
    bench: Bench,
) -> None:
    names = bench.names
    workers = names[3:]
    async with clean(bench):
        first = await bench.apply(bench.cluster(internal(bench, "haproxy", 2), "internal.yaml"))
        assert first.counts.get("changed", 0) > 0
        hosts_line = await bench.run(workers[0], f"getent hosts {DOMAIN}")
        assert hosts_line.split()[0] == "127.0.0.1"
        on_master = await bench.run(names[0], f"getent hosts {DOMAIN}")
        assert on_master.split()[0] == bench.address(names[0])
        await failover_from_a_worker(bench, workers[0])

        again = await bench.apply(bench.cluster(internal(bench, "haproxy", 2), "internal.yaml"))
        assert again.counts.get("changed", 0) == 0, again.counts

        pids = {worker: await bench.main_pid(worker) for worker in workers}
        grown = await bench.apply(bench.cluster(internal(bench, "haproxy", 3), "grown.yaml"))
        assert grown.counts.get("changed", 0) > 0
        for worker in workers:
            assert await bench.main_pid(worker) == pids[worker], "the proxy was restarted"
            config = await bench.run(worker, "cat /etc/kubexms/loadbalancer/haproxy.cfg")
            assert f"server {names[2]} {bench.address(names[2])}:6443" in config
            answers = await bench.requests(worker, f"https://{DOMAIN}:6443", 3)
            assert set(answers) == set(names[:3]), answers


async def test_internal_nginx_fails_over_with_passive_checks(bench: Bench) -> None:
    async with clean(bench):
        cluster = bench.cluster(internal(bench, "nginx", 2), "nginx.yaml")
        await bench.apply(cluster)
        await failover_from_a_worker(bench, bench.names[3])
        again = await bench.apply(cluster)
        assert again.counts.get("changed", 0) == 0, again.counts


async def test_external_keepalived_moves_the_address_once_per_failure(bench: Bench) -> None:
    names = bench.names
    balancers = names[3:]
    network = ipaddress.ip_network(bench.hosts.fleet.subnet, strict=False)
    vip = str(network.broadcast_address - 5)

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
            "port": 6443,
            "loadBalancer": {"type": "external", "kind": "haproxy"},
        }

    async def holder() -> str | None:
        held = [b for b in balancers if (await bench.run(b, f"ip -o addr show to {vip}")).strip()]
        assert len(held) <= 1, f"two hosts hold {vip}: {held}"
        return held[0] if held else None

    def answer() -> str:
        result = subprocess.run(
            ["curl", "-sk", "--max-time", "2", f"https://{vip}:6443/who"],
            capture_output=True,
            text=True,
        )
        return result.stdout.strip() if result.returncode == 0 else "FAILED"

    async def answers() -> bool:
        return await asyncio.to_thread(answer) in names[:2]

    async with clean(bench):
        cluster = bench.cluster(edit, "external.yaml")
        await bench.apply(cluster)

        async def held() -> bool:
            return await holder() is not None

        # Both start at once, as BACKUP without preemption: whichever claims it first keeps it.
        await wait_until(held, f"a loadbalancer host holds {vip}", 15)
        first = await holder()
        assert first is not None
        (other,) = [name for name in balancers if name != first]
        await wait_until(answers, f"{vip} answers from this machine", 10)
        again = await bench.apply(cluster)
        assert again.counts.get("changed", 0) == 0, again.counts

        async def holds(name: str) -> bool:
            return await holder() == name

        # keepalived stops on the holder: the address moves, requests succeed again.
        await bench.run(first, "systemctl stop kubexms-keepalived")
        moved = await wait_until(lambda: holds(other), f"{vip} moves to {other}", 10)
        await wait_until(answers, f"{vip} answers after the move", 10)
        # The first host comes back: no second move (nopreempt), whatever its priority.
        await bench.run(first, "systemctl start kubexms-keepalived")
        await asyncio.sleep(6)
        assert await holder() == other, "the returning host took the address back"

        # The proxy dies on the holder: keepalived gives the address up.
        await bench.run(other, "systemctl kill --signal=KILL kubexms-lb")
        await wait_until(lambda: holds(first), f"{vip} moves back to {first}", 10)
        await wait_until(answers, f"{vip} answers after haproxy died", 10)
        assert moved < 10

        # A third loadbalancer host (first in config order, so every priority changes): the
        # others reload keepalived and their proxies; the address stays where it is.
        third = names[2]
        await bench.stop_backend(third)  # not a master here; its port 6443 is the proxy's now
        keepalived = {name: await bench.main_pid(name, "kubexms-keepalived") for name in balancers}
        balancers.insert(0, third)
        grown = await bench.apply(bench.cluster(edit, "external-grown.yaml"))
        assert grown.counts.get("changed", 0) > 0
        for name, pid in keepalived.items():
            assert await bench.main_pid(name, "kubexms-keepalived") == pid, name
            config = await bench.run(name, "cat /etc/kubexms/loadbalancer/keepalived.conf")
            assert bench.address(third) in config.split("unicast_peer")[1]
        await asyncio.sleep(4)
        assert await holder() == first, "the address moved when keepalived reloaded"
        assert await asyncio.to_thread(answer) in names[:2]
