"""OS preparation applies what the pipeline's modules declare: its own OS basics on every
node, and a component's packages, modules and sysctls only on the hosts of its roles."""

from __future__ import annotations

from kubexms.engine import HostNeeds, Module, Pipeline, PlanContext
from kubexms.hostprep import OSPrepModule, kernel_modules, required_packages
from kubexms.hostprep._requirements import os_needs
from kubexms.pipelines import InitOSPipeline
from kubexms.testing import cluster_of


class LoadBalancer(Module):
    name = "loadbalancer"

    def host_needs(self, ctx: PlanContext) -> list[HostNeeds]:
        return [
            HostNeeds(
                "loadbalancer",
                roles=("worker",),
                packages={"apt": ("haproxy",), "dnf": ("haproxy",)},
                sysctl={"net.ipv4.ip_nonlocal_bind": "1"},
            )
        ]


def test_os_basics_are_hostpreps_own_declaration() -> None:
    plain, ipvs = (
        os_needs(cluster_of(1)),
        os_needs(cluster_of(1, extra_spec={"kubernetes": {"kubeProxy": {"mode": "ipvs"}}})),
    )
    assert [n.component for n in plain] == ["kubernetes"]
    assert [n.component for n in ipvs] == ["kubernetes", "kube-proxy"]
    assert ipvs[1].kernel_modules[0] == "ip_vs"
    assert "ipvsadm" in required_packages(
        cluster_of(1, extra_spec={"kubernetes": {"kubeProxy": {"mode": "ipvs"}}}), "dnf"
    )
    assert [m.name for m in kernel_modules(cluster_of(1))] == ["overlay", "br_netfilter"]


def test_init_os_plans_one_task_per_concern_when_every_host_needs_the_same() -> None:
    graph = InitOSPipeline().plan(cluster_of(3))
    assert graph.nodes["init-os/os/kernel/kernel-modules"].hosts == ("node1", "node2", "node3")
    assert graph.nodes["init-os/os/packages/packages"].hosts == ("node1", "node2", "node3")
    params = graph.nodes["init-os/os/packages/packages"].step.params()
    assert "socat" in params["packages"]["apt"]  # type: ignore[index]


def test_a_components_needs_go_only_to_its_hosts() -> None:
    graph = Pipeline("p", [OSPrepModule(), LoadBalancer()]).plan(cluster_of(3))
    master, workers = "p/os/packages-1/packages", "p/os/packages-2/packages"
    assert graph.nodes[master].hosts == ("node1",)
    assert graph.nodes[workers].hosts == ("node2", "node3")
    master_apt = graph.nodes[master].step.params()["packages"]["apt"]  # type: ignore[index]
    worker_apt = graph.nodes[workers].step.params()["packages"]["apt"]  # type: ignore[index]
    assert "haproxy" not in master_apt
    assert worker_apt[-1] == "haproxy"
    sysctl = graph.nodes["p/os/kernel-2/sysctl"].step.params()
    assert "net.ipv4.ip_nonlocal_bind" in str(sysctl)
    assert "net.ipv4.ip_nonlocal_bind" not in str(graph.nodes["p/os/kernel-1/sysctl"].step.params())
