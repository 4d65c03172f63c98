"""Planning the container-runtime phase: its tasks, on which hosts, and what stays secret."""

from __future__ import annotations

from typing import Any

from kubexms.config import Cluster, parse_config
from kubexms.engine import ExecutionGraph
from kubexms.pipelines import CreateClusterPipeline, PhaseSelection
from tests.unit.config.sample import base, to_yaml


def _cluster(registry: dict[str, Any] | None = None) -> Cluster:
    data = base()
    data["spec"]["hosts"].append({"name": "node4", "address": "10.213.0.14"})
    data["spec"]["roleGroups"] = {
        "master": ["node1"],
        "etcd": ["node1", "node4"],
        "worker": ["node2", "node3"],
    }
    if registry is not None:
        data["spec"]["registry"] = registry
    return parse_config(to_yaml(data))


def _plan(cluster: Cluster) -> ExecutionGraph:
    return CreateClusterPipeline(PhaseSelection.choose(["container-runtime"])).plan(cluster)


def test_only_container_runtime_fetches_its_four_artifacts_for_the_nodes() -> None:
    graph = _plan(_cluster())
    fetch = graph.nodes["create-cluster/artifacts/fetch/fetch"].step.params()
    components = fetch["components"]
    assert isinstance(components, list)
    assert sorted(components) == ["cni-plugins", "containerd", "crictl", "runc"]
    nodes = [n for n in graph.nodes if n.startswith("create-cluster/container-runtime/")]
    assert "create-cluster/container-runtime/service/service" in nodes
    assert "create-cluster/container-runtime/images/images" in nodes
    service = graph.nodes["create-cluster/container-runtime/service/service"]
    # node4 is only an etcd member: it runs no containers.
    assert service.hosts == ("node1", "node2", "node3")


def test_logins_never_appear_in_the_plan_and_a_private_registry_skips_imports() -> None:
    cluster = _cluster(
        {
            "privateRegistry": "reg.example:5000",
            "auths": {"reg.example:5000": {"username": "puller", "password": "s3cr3t-pw"}},
        }
    )
    graph = _plan(cluster)
    params = str(graph.nodes["create-cluster/container-runtime/service/service"].step.params())
    assert "s3cr3t-pw" not in params
    assert "/etc/containerd/certs.d/reg.example:5000/hosts.toml" in params
    assert not any(n.endswith("/images/images") for n in graph.nodes)


def test_it_declares_overlay_bridge_netfilter_and_forwarding_for_the_nodes() -> None:
    from kubexms.containerd import ContainerRuntimeModule
    from kubexms.engine import PlanContext

    (needs,) = ContainerRuntimeModule().host_needs(PlanContext.for_cluster(_cluster()))
    assert set(needs.roles) == {"master", "worker"}
    assert set(needs.kernel_modules) == {"overlay", "br_netfilter"}
    assert needs.sysctl["net.ipv4.ip_forward"] == "1"
    assert needs.sysctl["net.bridge.bridge-nf-call-iptables"] == "1"
