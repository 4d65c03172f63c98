"""Preflight checks: their real probes against this machine's shell (a LocalConnector), with
what components declare (HostNeeds) deciding what each host is checked for; each failure is a
sentence naming the host, what is wrong and who needs it. Facts no machine here can show
(another OS, another init) come from a scripted host."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator

import pytest

from kubexms.config import Cluster, ResolvedHost
from kubexms.connector import Connector, LocalConnector
from kubexms.engine import (
    CheckFailedError,
    ExecutionGraph,
    HostNeeds,
    Module,
    Pipeline,
    PlanContext,
)
from kubexms.loadbalancer import loadbalancer_host_needs
from kubexms.pipelines import CreateClusterPipeline, InitOSPipeline, PhaseSelection
from kubexms.preflight import (
    CLOCK_OFFSET,
    ClockSkew,
    KernelModulesAvailable,
    PortsFree,
    PreflightModule,
    Reachable,
    Resources,
    SupportedOS,
    parse_version,
)
from kubexms.runtime import Context, new_runtime
from kubexms.testing import cluster_of
from tests.unit.hostprep.scripted import Script, scripted_context


async def local(config: Cluster | None = None, host: int = 0) -> Context:
    """A Context whose host is this machine (node1: master and etcd; node2: worker)."""

    def build(spec: ResolvedHost) -> Connector:
        return LocalConnector(spec.name)

    runtime = await new_runtime(config or cluster_of(2), connector_factory=build)
    return runtime.new_context(runtime.hosts[host])


@pytest.fixture
def listening_port() -> Iterator[int]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def test_versions() -> None:
    assert parse_version("6.1.0-18-amd64") == (6, 1, 0)
    assert parse_version("20.04") == (20, 4)
    assert parse_version("bookworm") == ()
    assert parse_version("4.18") < parse_version("4.19") < parse_version("5")


async def test_reachable_as_root_on_a_real_shell() -> None:
    ctx = await local()
    if os.geteuid() == 0:
        await Reachable().verify(ctx)
    else:
        with pytest.raises(CheckFailedError, match=f"commands run as uid {os.geteuid()}"):
            await Reachable().verify(ctx)


async def test_reachable_names_the_uid() -> None:
    _, ctx = await scripted_context(Script().on("id -u", "1000\n"))
    with pytest.raises(CheckFailedError, match="node1: commands run as uid 1000"):
        await Reachable().verify(ctx)


async def test_supported_os_passes_debian_12() -> None:
    _, ctx = await scripted_context(Script())
    assert await SupportedOS().precheck(ctx)


@pytest.mark.parametrize(
    ("facts", "message"),
    [
        ({"os_id": "arch", "os_name": "Arch Linux"}, "Arch Linux is not supported"),
        ({"os_id": "ubuntu", "os_version": "18.04"}, "ubuntu 18.04 is too old"),
        ({"kernel": "3.10.0-1160.el7.x86_64"}, "kernel 3.10.0-1160.el7.x86_64 is too old"),
        ({"machine": "riscv64"}, "architecture riscv64 is not amd64 or arm64"),
        ({"init": "tini"}, "init is tini, not systemd"),
        ({"package_manager": "apk"}, "no apt, dnf or yum"),
    ],
)
async def test_unsupported_hosts(facts: dict[str, str], message: str) -> None:
    script = Script()
    script.facts.update(facts)
    _, ctx = await scripted_context(script)
    with pytest.raises(CheckFailedError, match=message):
        await SupportedOS().verify(ctx)


async def test_resources_by_the_roles_declared_needs() -> None:
    cpus = os.cpu_count() or 1
    needs = (
        HostNeeds("kubernetes", cpus=1, memory_mib=1),
        HostNeeds("big-master", roles=("master",), cpus=cpus + 1, memory_mib=1),
    )
    master = await local(host=0)
    with pytest.raises(
        CheckFailedError, match=rf"{cpus} CPU\(s\), need {cpus + 1} \(roles: etcd, master; for big"
    ):
        await Resources(needs).verify(master)
    await Resources(needs).verify(await local(host=1))  # a worker asks only what every node does
    await Resources(()).verify(master)  # nothing declared: nothing to check


async def test_ports_in_use_name_who_needs_them(listening_port: int) -> None:
    needs = (
        HostNeeds("etcd", roles=("etcd",), ports=(listening_port,)),
        HostNeeds("kubelet", roles=("worker",), ports=(65534,)),
    )
    master = await local(host=0)  # master and etcd
    with pytest.raises(CheckFailedError) as failed:
        await PortsFree(needs).verify(master)
    assert f"TCP port(s) {listening_port} already in use; needed: {listening_port} for etcd" in (
        str(failed.value)
    )
    await PortsFree(needs).verify(await local(host=1))  # the worker does not run etcd


async def test_a_missing_module_is_named_with_who_needs_it() -> None:
    present = sorted(os.listdir("/sys/module"))[0]
    needs = (
        HostNeeds("kubernetes", kernel_modules=(present,), reason="every node"),
        HostNeeds(
            "kube-proxy",
            roles=("worker",),
            kernel_modules=("kxms_no_such_module",),
            reason="kubernetes.kubeProxy.mode is ipvs",
        ),
    )
    await KernelModulesAvailable(needs).verify(await local(host=0))  # not a worker
    with pytest.raises(CheckFailedError) as failed:
        await KernelModulesAvailable(needs).verify(await local(host=1))
    message = str(failed.value)
    assert (
        "kxms_no_such_module (needed by kube-proxy (kubernetes.kubeProxy.mode is ipvs))" in message
    )
    assert present not in message


async def test_clock_skew_on_a_real_shell() -> None:
    ctx = await local()
    await ClockSkew(2.0).verify(ctx)
    offset: float = ctx.shared_data.get(CLOCK_OFFSET)
    assert abs(offset) < 1.0


async def test_clock_skew_behind() -> None:
    late = Script().on("date +%s.%N", lambda command, stdin: f"{time.time() - 30:.6f}\n")
    _, ctx = await scripted_context(late)
    with pytest.raises(CheckFailedError, match=r"clock is 30\.\ds behind this machine's"):
        await ClockSkew(2.0).verify(ctx)


def _port_needs(graph: ExecutionGraph, pipeline: str = "init-os") -> tuple[HostNeeds, ...]:
    step = graph.nodes[f"{pipeline}/preflight/checks/ports"].step
    assert isinstance(step, PortsFree)
    return step.needs


def test_init_os_checks_the_ports_the_clusters_components_declare() -> None:
    needs = _port_needs(InitOSPipeline().plan(cluster_of(2)))
    assert [(n.component, n.roles, n.ports) for n in needs] == [
        ("etcd", ("etcd",), (2379, 2380, 2381)),
        ("control-plane", ("master",), (6443, 10250, 10257, 10259)),
        ("kubelet", ("worker",), (10250,)),
    ]
    external = {
        "type": "external",
        "external": {
            "endpoints": ["https://10.0.0.9:2379"],
            "caFile": "/x/ca.crt",
            "certFile": "/x/c.crt",
            "keyFile": "/x/c.key",
        },
    }
    needs = _port_needs(InitOSPipeline().plan(cluster_of(2, extra_spec={"etcd": external})))
    assert "etcd" not in [n.component for n in needs]
    stacked = cluster_of(2, extra_spec={"etcd": {"type": "kubeadm"}})
    (etcd,) = [n for n in _port_needs(InitOSPipeline().plan(stacked)) if n.component == "etcd"]
    assert etcd.roles == ("master",)


def test_preflight_knows_no_component() -> None:
    """A pipeline whose modules declare nothing but one need: preflight checks exactly it."""

    class Registry(Module):
        name = "registry"

        def host_needs(self, ctx: PlanContext) -> list[HostNeeds]:
            return [HostNeeds("registry", roles=("registry",), ports=(5000,), cpus=1)]

    graph = Pipeline("p", [PreflightModule(), Registry()]).plan(cluster_of(2))
    assert _port_needs(graph, "p") == (
        HostNeeds("registry", roles=("registry",), ports=(5000,), cpus=1),
    )
    modules = graph.nodes["p/preflight/checks/kernel-modules"].step
    assert isinstance(modules, KernelModulesAvailable)
    assert modules.needs == ()


@pytest.mark.parametrize(("active", "fails"), [(True, False), (False, True)])
async def test_a_port_held_by_the_components_own_active_service_is_not_taken(
    active: bool, fails: bool
) -> None:
    listening = f"{2379:04X}\n"
    script = Script().on("/proc/net/tcp", listening)
    script.on("systemctl is-active", "@kxms:yes\n" if active else "")
    _, ctx = await scripted_context(script)  # node1 is etcd
    check = PortsFree((HostNeeds("etcd", roles=("etcd",), ports=(2379,), service="etcd.service"),))
    if fails:
        with pytest.raises(CheckFailedError, match="2379 already in use; needed: 2379 for etcd"):
            await check.verify(ctx)
    else:
        await check.verify(ctx)


def test_create_cluster_preflight_checks_what_its_phases_declare() -> None:
    graph = CreateClusterPipeline(PhaseSelection.choose(only=["etcd"])).plan(cluster_of(3))
    needs = _port_needs(graph, "create-cluster")
    assert [(n.component, n.ports, n.service) for n in needs] == [
        ("etcd", (2379, 2380, 2381), "etcd.service")
    ]


def test_create_cluster_checks_an_external_load_balancers_port() -> None:
    spec = {
        "hosts": [{"name": f"node{i}", "address": f"10.213.0.{i}"} for i in range(1, 4)],
        "roleGroups": {
            "master": ["node1"],
            "etcd": ["node1"],
            "worker": ["node2"],
            "loadbalancer": ["node3"],
        },
        "controlPlaneEndpoint": {
            "domain": "lb.memory.local",
            "address": "10.213.0.100",
            "loadBalancer": {"type": "external"},
        },
    }
    config = cluster_of(3, extra_spec=spec)
    graph = CreateClusterPipeline(PhaseSelection.choose(only=["loadbalancer"])).plan(config)
    (needs,) = _port_needs(graph, "create-cluster")
    assert (needs.roles, needs.ports, needs.service) == (
        ("loadbalancer",),
        (6443,),
        "kubexms-lb.service",
    )


def test_an_internal_load_balancer_declares_its_port_on_non_master_workers() -> None:
    config = cluster_of(
        3,
        extra_spec={
            "controlPlaneEndpoint": {
                "domain": "lb.memory.local",
                "loadBalancer": {"type": "internal"},
            }
        },
    )
    (needs,) = loadbalancer_host_needs(config)
    assert needs.applies_to({"worker"})
    assert not needs.applies_to({"worker", "master"})
    assert needs.service == "kubexms-lb.service"
