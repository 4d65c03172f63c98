"""The loadbalancer phase as planned from the cluster file: which hosts get what, for each mode
(the files themselves are in test_render.py; real daemons in the fleet tests)."""

from __future__ import annotations

from typing import Any

from kubexms.config import Cluster
from kubexms.engine import Pipeline, PlanContext
from kubexms.loadbalancer import (
    LoadBalancerModule,
    balancer_hosts,
    balancer_ports,
    packages_needed,
)
from kubexms.loadbalancer._steps import ServiceOnInterface
from kubexms.steps import HostsEntries, SystemdService
from kubexms.testing import cluster_of


def cluster(lb: dict[str, Any], *, hosts: int = 5, masters: int = 3, **more: Any) -> Cluster:
    endpoint = {"domain": "lb.demo.local", "address": "10.213.0.100", "loadBalancer": lb, **more}
    extra: dict[str, Any] = {"controlPlaneEndpoint": endpoint}
    if lb.get("type") == "external":
        extra["roleGroups"] = {
            "master": ["node1", "node2", "node3"][:masters],
            "etcd": ["node1"],
            "worker": ["node4", "node5"],
            "loadbalancer": ["node4", "node5"],
        }
    return cluster_of(hosts, masters=masters, extra_spec=extra)


def nodes_of(config: Cluster) -> dict[str, tuple[str, ...]]:
    """node id -> hosts."""
    graph = Pipeline("t", [LoadBalancerModule()]).plan(config)
    return {node_id: node.hosts for node_id, node in graph.nodes.items()}


def test_internal_puts_a_proxy_on_every_node_that_is_not_a_master() -> None:
    config = cluster({"type": "internal", "kind": "haproxy"})
    nodes = nodes_of(config)
    assert nodes["t/loadbalancer/proxy/proxy"] == ("node4", "node5")
    assert nodes["t/loadbalancer/endpoint-name/endpoint-name"] == ("node4", "node5")
    assert nodes["t/loadbalancer/endpoint-name-masters/endpoint-name"] == (
        "node1",
        "node2",
        "node3",
    )
    assert balancer_hosts(config) == ["node4", "node5"]
    assert balancer_ports(config) == (6443,)
    assert packages_needed(config)["apt"] == ("haproxy",)


def test_internal_proxy_reloads_on_backend_changes_and_is_validated_first() -> None:
    graph = Pipeline("t", [LoadBalancerModule()]).plan(cluster({"type": "internal"}))
    step = graph.nodes["t/loadbalancer/proxy/proxy"].step
    assert isinstance(step, SystemdService)
    assert step.unit == "kubexms-lb.service"
    (config,) = step.files
    assert config.path == "/etc/kubexms/loadbalancer/haproxy.cfg"
    assert config.reload
    assert config.validate == "/usr/sbin/haproxy -c -q -f {path}"
    assert "bind 127.0.0.1:6443" in config.content
    names = graph.nodes["t/loadbalancer/endpoint-name/endpoint-name"].step
    assert isinstance(names, HostsEntries)
    assert names.block("10.213.0.4") == "127.0.0.1 lb.demo.local\n"
    on_master = graph.nodes["t/loadbalancer/endpoint-name-masters/endpoint-name"].step
    assert isinstance(on_master, HostsEntries)
    assert on_master.block("10.213.0.1") == "10.213.0.1 lb.demo.local\n"
    assert on_master.marker == names.marker == "kubexms-endpoint"
    # The endpoint points at the proxy only once the proxy runs.
    assert (
        "t/loadbalancer/proxy/proxy"
        in graph.dependencies["t/loadbalancer/endpoint-name/endpoint-name"]
    )


def test_internal_with_nginx_needs_the_stream_module() -> None:
    config = cluster({"type": "internal", "kind": "nginx"})
    assert packages_needed(config)["apt"] == ("nginx", "libnginx-mod-stream")
    assert packages_needed(config)["dnf"] == ("nginx", "nginx-mod-stream")
    step = Pipeline("t", [LoadBalancerModule()]).plan(config).nodes["t/loadbalancer/proxy/proxy"]
    assert isinstance(step.step, SystemdService)
    assert step.step.files[0].validate == "/usr/sbin/nginx -t -q -c {path}"


def test_external_runs_a_proxy_on_every_balancer_and_keepalived_after_it() -> None:
    config = cluster({"type": "external", "kind": "haproxy"})
    graph = Pipeline("t", [LoadBalancerModule()]).plan(config)
    assert graph.nodes["t/loadbalancer/proxy/proxy"].hosts == ("node4", "node5")
    for host in ("node4", "node5"):
        node_id = f"t/loadbalancer/keepalived-{host}/keepalived"
        assert graph.nodes[node_id].hosts == (host,)
        assert "t/loadbalancer/proxy/proxy" in graph.dependencies[node_id]
        assert isinstance(graph.nodes[node_id].step, ServiceOnInterface)
    proxy = graph.nodes["t/loadbalancer/proxy/proxy"].step
    assert isinstance(proxy, SystemdService)
    assert "bind *:6443" in proxy.files[0].content
    assert packages_needed(config)["apt"] == ("haproxy", "keepalived")


def test_external_keepalived_priorities_follow_config_order() -> None:
    graph = Pipeline("t", [LoadBalancerModule()]).plan(cluster({"type": "external"}))
    first = graph.nodes["t/loadbalancer/keepalived-node4/keepalived"].step
    second = graph.nodes["t/loadbalancer/keepalived-node5/keepalived"].step
    assert isinstance(first, ServiceOnInterface)
    assert isinstance(second, ServiceOnInterface)
    one = first.service("eth0").files[0].content
    two = second.service("eth0").files[0].content
    assert "priority 150" in one
    assert "priority 140" in two
    assert "unicast_src_ip 10.213.0.4" in one
    assert "10.213.0.5" in one.split("unicast_peer")[1]
    # The plan shows the declaration with the interface still to be found on the host.
    assert first.params()["interface"] == "detected"


def test_kube_vip_is_a_manifest_on_every_master() -> None:
    nodes = nodes_of(cluster({"type": "kube-vip"}))
    assert nodes == {"t/loadbalancer/kube-vip/kube-vip-manifest": ("node1", "node2", "node3")}
    assert balancer_hosts(cluster({"type": "kube-vip"})) == []
    graph = Pipeline("t", [LoadBalancerModule()]).plan(cluster({"type": "kube-vip"}))
    step = graph.nodes["t/loadbalancer/kube-vip/kube-vip-manifest"].step
    assert step.params()["image"] == "ghcr.io/kube-vip/kube-vip:v0.8.9"


def test_kube_vip_is_an_image_of_the_cluster_only_in_that_mode() -> None:
    from kubexms.artifacts import cluster_images

    def keys(config: Cluster) -> set[str]:
        return {image.key for image in cluster_images(config)}

    assert "kube-vip" in keys(cluster({"type": "kube-vip"}))
    assert "kube-vip" not in keys(cluster({"type": "internal"}))


def test_none_installs_nothing() -> None:
    config = cluster({"type": "none"})
    assert LoadBalancerModule().tasks(PlanContext.for_cluster(config)) == []
    assert packages_needed(config) == {}
    assert balancer_ports(config) == ()


def test_with_internal_the_os_phase_leaves_the_endpoint_name_to_this_phase() -> None:
    from kubexms.hostprep import HostsFileBlock, OSPrepModule

    def block_of(config: Cluster) -> str:
        graph = Pipeline("t", [OSPrepModule()]).plan(config)
        (step,) = [n.step for n in graph.nodes.values() if isinstance(n.step, HostsFileBlock)]
        return step.block

    assert "lb.demo.local" not in block_of(cluster({"type": "internal"}))
    assert "10.213.0.100 lb.demo.local" in block_of(cluster({"type": "kube-vip"}))


def test_create_cluster_only_loadbalancer_prepares_only_the_hosts_it_needs() -> None:
    from kubexms.pipelines import CreateClusterPipeline, PhaseSelection

    config = cluster({"type": "external"})
    selection = PhaseSelection.choose(["loadbalancer"])
    assert selection.phases == ("preflight", "os", "artifacts", "loadbalancer")
    graph = CreateClusterPipeline(selection).plan(config)
    assert graph.nodes["create-cluster/os/packages/packages"].hosts == ("node4", "node5")
    assert graph.nodes["create-cluster/loadbalancer/proxy/proxy"].hosts == ("node4", "node5")
    assert not [n for n in graph.nodes if n.startswith("create-cluster/artifacts/place-")]


def test_the_proxy_hosts_need_their_packages_from_the_os_phase() -> None:
    from kubexms.loadbalancer import loadbalancer_host_needs
    from kubexms.pipelines import CreateClusterPipeline, PhaseSelection

    (needs,) = loadbalancer_host_needs(cluster({"type": "external", "kind": "nginx"}))
    assert needs.roles == ("loadbalancer",)
    assert needs.packages["apt"] == ("nginx", "libnginx-mod-stream", "keepalived")
    assert needs.ports == (6443,)
    assert loadbalancer_host_needs(cluster({"type": "kube-vip"})) == []
    graph = CreateClusterPipeline(PhaseSelection.choose(["loadbalancer"])).plan(
        cluster({"type": "internal"})
    )
    installs = {
        node.hosts: node.step.params()["packages"]
        for node_id, node in graph.nodes.items()
        if node_id.startswith("create-cluster/os/packages")
    }
    assert any("haproxy" in str(packages) for packages in installs.values()), installs
    haproxy_hosts = [hosts for hosts, packages in installs.items() if "haproxy" in str(packages)]
    assert all(set(hosts) <= {"node4", "node5"} for hosts in haproxy_hosts), installs
