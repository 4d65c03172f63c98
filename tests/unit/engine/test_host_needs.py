"""HostNeeds: what components declare of their hosts; HostRequirements: those of a pipeline's
modules, gathered before any module plans and asked per host by its roles."""

from __future__ import annotations

import pytest

from kubexms.engine import (
    AllHosts,
    HostNeeds,
    HostRequirements,
    Module,
    Pipeline,
    PlanContext,
    PlanError,
    Task,
)
from kubexms.testing import cluster_of
from tests.unit.engine.world import ProbeStep

ETCD = HostNeeds("etcd", roles=("etcd",), ports=(2379, 2380), cpus=2, memory_mib=2048)
NODE = HostNeeds(
    "kubernetes",
    packages={"apt": ("socat", "conntrack"), "dnf": ("socat", "conntrack-tools")},
    kernel_modules=("overlay", "br_netfilter"),
    sysctl={"net.ipv4.ip_forward": "1"},
    cpus=1,
    memory_mib=1024,
    reason="every node",
)
LB = HostNeeds(
    "loadbalancer",
    roles=("loadbalancer",),
    ports=(6443,),
    packages={"apt": ("haproxy", "socat")},
    sysctl={"net.ipv4.ip_nonlocal_bind": "1"},
)


def test_needs_per_host_by_roles() -> None:
    needs = HostRequirements((NODE, ETCD, LB))
    assert needs.for_roles({"etcd", "master"}) == [NODE, ETCD]
    assert needs.ports({"etcd"}) == {2379: ["etcd"], 2380: ["etcd"]}
    assert needs.ports({"worker"}) == {}
    assert needs.packages("apt", {"loadbalancer"}) == ["socat", "conntrack", "haproxy"]
    assert needs.packages("apt") == ["socat", "conntrack", "haproxy"]
    assert needs.packages("yum") == []
    assert needs.kernel_modules({"worker"}) == {
        "overlay": ["kubernetes (every node)"],
        "br_netfilter": ["kubernetes (every node)"],
    }
    assert needs.sysctl({"worker"}) == {"net.ipv4.ip_forward": "1"}
    assert needs.sysctl() == {"net.ipv4.ip_forward": "1", "net.ipv4.ip_nonlocal_bind": "1"}
    assert needs.minimums({"etcd"}) == (2, 2048)
    assert needs.minimums({"worker"}) == (1, 1024)
    assert HostRequirements().minimums({"worker"}) == (0, 0)


def test_conflicting_sysctls_on_one_host_are_a_planning_error() -> None:
    other = HostNeeds("tuner", roles=("worker",), sysctl={"net.ipv4.ip_forward": "0"})
    with pytest.raises(PlanError, match=r"ip_forward: kubernetes \(every node\) needs '1' but"):
        HostRequirements((NODE, other))
    apart = HostNeeds("x", roles=("etcd",), sysctl={"net.ipv4.ip_nonlocal_bind": "0"})
    HostRequirements((LB, apart))  # never on the same host: fine


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"component": ""}, "name of the component"),
        ({"ports": (0,)}, "outside 1..65535"),
        ({"packages": {"apk": ("x",)}}, "unknown package manager"),
        ({"cpus": -1}, "must not be negative"),
    ],
)
def test_declaration_errors(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        HostNeeds(**{"component": "c", **fields})  # type: ignore[arg-type]


def test_the_pipeline_gathers_its_modules_needs_before_they_plan() -> None:
    seen: list[HostRequirements] = []

    class Declares(Module):
        def __init__(self, name: str, needs: list[HostNeeds]) -> None:
            super().__init__(name)
            self.needs = needs

        def host_needs(self, ctx: PlanContext) -> list[HostNeeds]:
            return self.needs

        def tasks(self, ctx: PlanContext) -> list[Task]:
            seen.append(ctx.needs)
            return [Task("t", [ProbeStep("s")], AllHosts())]

    pipeline = Pipeline("p", [Declares("first", [ETCD]), Declares("second", [LB])])
    pipeline.plan(cluster_of(2))
    assert [needs.declared for needs in seen] == [(ETCD, LB), (ETCD, LB)]


def test_params_of_needs_are_plain_data() -> None:
    assert HostRequirements((LB,)).declared[0].why() == "loadbalancer"
    assert NODE.why() == "kubernetes (every node)"
    assert not HostRequirements()


def test_without_roles_leaves_those_hosts_out() -> None:
    proxy = HostNeeds("lb", roles=("worker",), without_roles=("master",), ports=(6443,))
    needs = HostRequirements((proxy,))
    assert needs.ports({"worker"}) == {6443: ["lb"]}
    assert needs.ports({"worker", "master"}) == {}
    assert needs.ports({"etcd"}) == {}
