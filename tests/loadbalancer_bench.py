"""A bench for the loadbalancer phase on the fleet: five leased systemd hosts with haproxy,
nginx and keepalived installed offline from this machine's .debs, TLS servers standing in for
the API servers on the first three, and helpers to run the phase and watch the result.

Every master candidate runs ``openssl s_server -WWW`` on 6443 as a transient systemd unit; it
answers ``/healthz`` (haproxy's check) and ``/who`` (the host's name).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubexms.config import Cluster, load_config
from kubexms.engine import AllHosts, Engine, Module, Pipeline, RunResult, Task
from kubexms.hostprep import InstallPackages, PackageSource
from kubexms.loadbalancer import LoadBalancerModule
from kubexms.runtime import new_runtime
from tests.fixtures.offline_debs import LOAD_BALANCER_PACKAGES, offline_debs
from tests.leasing import LOAD_BALANCER_PACKAGES_INSTALLED, HostLease, HostPool

PACKAGES = list(LOAD_BALANCER_PACKAGES)
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


@asynccontextmanager
async def loadbalancer_bench(
    fleet_pool: HostPool, directory: Path, holder: str
) -> AsyncIterator[Bench]:
    """Lease five systemd hosts and prepare them (see the module docstring). The fault tier's
    bench and the integration tier's get the same hosts: the second installs nothing."""
    with fleet_pool.lease(
        5, init="systemd", holder=holder, prefer=LOAD_BALANCER_PACKAGES_INSTALLED
    ) as hosts:
        debs = directory / "debs"
        await asyncio.to_thread(offline_debs, debs, PACKAGES)
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
