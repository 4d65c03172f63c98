"""Planning the registry phase: where it runs, who learns its name, what stays secret."""

from __future__ import annotations

from kubexms.config import parse_config
from kubexms.pipelines import CreateClusterPipeline, PhaseSelection
from tests.unit.config.sample import base, to_yaml


def test_registry_phase_installs_on_its_host_and_names_it_on_every_node() -> None:
    data = base()
    data["spec"]["hosts"].append({"name": "node4", "address": "10.213.0.14"})
    data["spec"]["roleGroups"] = {
        "master": ["node1"],
        "etcd": ["node1"],
        "worker": ["node2", "node3"],
        "registry": ["node4"],
    }
    data["spec"]["registry"] = {
        "type": "registry",
        "privateRegistry": "registry.example.internal:5443",
        "auths": {"registry.example.internal:5443": {"username": "u", "password": "pw-9z"}},
    }
    cluster = parse_config(to_yaml(data))
    graph = CreateClusterPipeline(PhaseSelection.choose(["registry"])).plan(cluster)
    service = graph.nodes["create-cluster/registry/install/service"]
    assert service.hosts == ("node4",)
    assert "pw-9z" not in str(service.step.params())
    hosts_entry = graph.nodes["create-cluster/registry/name/hosts-entry"]
    assert hosts_entry.hosts == ("node1", "node2", "node3", "node4")
    assert "registry.example.internal" in str(hosts_entry.step.params())
    assert "10.213.0.14" in str(hosts_entry.step.params())
    assert "create-cluster/registry/push-images/push-images" in graph.nodes
