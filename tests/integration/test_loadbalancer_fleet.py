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
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from kubexms.config import Cluster, load_config
from kubexms.engine import AllHosts, Engine, Module, Pipeline, RunResult, Task
from kubexms.hostprep import InstallPackages, PackageSource
from kubexms.loadbalancer import LoadBalancerModule
from kubexms.runtime import new_runtime
from tests.leasing import HostLease, HostPool

pytestmark = pytest.mark.fleet

PACKAGES = ["haproxy", "nginx", "libnginx-mod-stream", "keepalived"]
DOMAIN = "lb.kubexms.test"
BACKEND_DIR = "/srv/kx-apiserver"
BACKEND_UNIT = "kx-apiserver"
CLEAN_UP = r"""
systemctl stop kubexms-keepalived kubexms-lb 2>/dev/null
rm -f /etc/systemd/system/kubexms-lb.service /etc/systemd/system/kubexms-keepalived.service
rm -rf /etc/kubexms/loadbalancer /var/lib/kubexms/restart-pending /var/lib/kubexms/reload-pending
systemctl daemon-reload
sed -i '/^# BEGIN kubexms-endpoint$/,/^# END kubexms-endpoint$/d' /etc/hosts
true
"""


def download_debs(directory: Path) -> None:
    """The .debs these hosts lack for the four packages, from this machine's apt (the hosts
    share the machine's installed packages, so the same resolution holds for them)."""
    directory.mkdir(parents=True, exist_ok=True)
    simulated = subprocess.run(
        ["apt-get", "-s", "install", "--no-install-recommends", *PACKAGES],
        capture_output=True,
        text=True,
        check=True,
    )
    names = [line.split()[1] for line in simulated.stdout.splitlines() if line.startswith("Inst ")]
    if names:
        subprocess.run(
            ["apt-get", "download", *names], cwd=directory, capture_output=True, check=True
        )


@dataclass
class Bench:
    """Five leased systemd hosts with the packages installed; h[0..2] may be masters."""

    hosts: HostLease
    directory: Path

    @property
    def names(self) -> list[str]:
        return self.hosts.names

    def address(self, name: str) -> str:
        return self.hosts.fleet.host(name).address

    async def run(self, host: str, command: str) -> str:
        return await self.hosts.run(host, command)

    def cluster(self, edit: Callable[[dict[str, Any]], None], name: str) -> Cluster:
        def shape(document: dict[str, Any]) -> None:
            document["metadata"]["name"] = "lb-test"
            document["spec"]["global"]["workDir"] = str(self.directory / "work")
            edit(document)

        return load_config(self.hosts.cluster_file(self.directory, edit=shape, name=name))

    async def apply(self, cluster: Cluster) -> RunResult:
        async with await new_runtime(cluster) as runtime:
            plan = Pipeline("lb", [LoadBalancerModule()]).plan(cluster)
            result = await Engine(runtime).run(plan)
        assert result.succeeded, result.failures
        return result

    async def start_backend(self, host: str) -> None:
        await self.run(
            host,
            f"systemctl is-active --quiet {BACKEND_UNIT} || systemd-run --quiet "
            f"--unit {BACKEND_UNIT} --working-directory={BACKEND_DIR} openssl s_server "
            "-quiet -accept 6443 -cert cert.pem -key key.pem -WWW",
        )

    async def stop_backend(self, host: str) -> None:
        await self.run(host, f"systemctl stop {BACKEND_UNIT}")

    async def main_pid(self, host: str, unit: str = "kubexms-lb") -> int:
        return int((await self.run(host, f"systemctl show -p MainPID --value {unit}")).strip())

    async def requests(self, host: str, url: str, seconds: float) -> list[str]:
        """One request every 0.1 s for ``seconds`` from inside ``host``: the answering
        master's name, or ``FAILED``."""
        script = (
            f"end=$(($(date +%s) + {int(seconds)})); while [ $(date +%s) -lt $end ]; do "
            f'r=$(curl -sk --max-time 2 {url}/who) && echo "$r" || echo FAILED; sleep 0.1; '
            "done"
        )
        return (await self.run(host, script)).split()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def bench(
    fleet_pool: HostPool, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Bench]:
    with fleet_pool.lease(5, init="systemd", holder=__name__) as hosts:
        directory = tmp_path_factory.mktemp("loadbalancer")
        debs = directory / "debs"
        await asyncio.to_thread(download_debs, debs)
        bench = Bench(hosts, directory)
        # The packages the way the os phase installs them offline: from this machine.
        install = InstallPackages({"apt": PACKAGES}, PackageSource.offline(debs))
        packages = Module("packages", [Task("packages", [install], AllHosts())])
        config = bench.cluster(lambda _: None, "packages.yaml")
        async with await new_runtime(config) as runtime:
            result = await Engine(runtime).run(Pipeline("setup", [packages]).plan(config))
        assert result.succeeded, result.failures
        for name in bench.names[:3]:
            await bench.run(
                name,
                f"mkdir -p {BACKEND_DIR} && cd {BACKEND_DIR} && openssl req -x509 -newkey "
                f"rsa:2048 -nodes -keyout key.pem -out cert.pem -days 2 -subj /CN={name} "
                f"2>/dev/null && echo ok > healthz && echo {name} > who",
            )
            await bench.start_backend(name)
        yield bench
        for name in bench.names:
            await bench.hosts.exec(name, f"systemctl stop {BACKEND_UNIT}; {CLEAN_UP}")


@asynccontextmanager
async def clean(bench: Bench) -> AsyncIterator[None]:
    try:
        for name in bench.names[:3]:
            await bench.start_backend(name)
        yield
    finally:
        for name in bench.names:
            await bench.hosts.exec(name, CLEAN_UP)


def internal(bench: Bench, kind: str, masters: int) -> Callable[[dict[str, Any]], None]:
    names = bench.names

    def edit(document: dict[str, Any]) -> None:
        document["spec"]["roleGroups"] = {
            "master": names[:masters],
            "etcd": names[:3],  # a host must be in some group; nothing installs etcd here
            "worker": names[3:],
        }
        document["spec"]["controlPlaneEndpoint"] = {
            "domain": DOMAIN,
            "port": 6443,
            "loadBalancer": {"type": "internal", "kind": kind},
        }

    return edit


async def wait_until(probe: Callable[[], Any], what: str, timeout: float) -> float:
    """Seconds until ``await probe()`` is true; AssertionError after ``timeout``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if await probe():
            return time.monotonic() - start
        await asyncio.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout}s")


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
