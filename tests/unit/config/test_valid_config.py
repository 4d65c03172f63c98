"""The base sample and the documented defaults."""

from __future__ import annotations

from pathlib import Path

from kubexms.config import Cluster, parse_config

from .sample import base, to_yaml


def test_base_sample_is_valid() -> None:
    cluster = parse_config(to_yaml(base()))
    assert isinstance(cluster, Cluster)
    assert cluster.name == "demo"
    assert [host.name for host in cluster.spec.hosts] == ["node1", "node2", "node3"]


def test_defaults() -> None:
    spec = parse_config(to_yaml(base())).spec
    assert spec.kubernetes.version.startswith("v1.3")
    assert spec.kubernetes.type == "kubeadm"
    assert spec.kubernetes.kube_proxy.mode == "iptables"
    assert spec.kubernetes.container_runtime.type == "containerd"
    assert spec.network.plugin == "calico"
    assert spec.network.kube_pods_cidr == "10.233.64.0/18"
    assert spec.network.kube_service_cidr == "10.233.0.0/18"
    assert spec.etcd.type == "kubexm"
    assert spec.etcd.data_dir == Path("/var/lib/etcd")
    assert spec.global_.host_key_policy == "strict"
    assert spec.global_.connection_timeout == 30
    assert spec.global_.command_timeout == 600
    assert spec.global_.connect_concurrency == 64
    assert spec.global_.concurrency == 50
    assert spec.global_.keepalive_interval == 15
    assert spec.global_.user == "root"
    assert spec.global_.port == 22
    assert spec.control_plane_endpoint.port == 6443
    assert spec.control_plane_endpoint.load_balancer.type == "none"
    assert spec.registry.auths == {}
    assert spec.addons == []


def test_snake_case_names_are_accepted_too() -> None:
    data = base()
    data["spec"]["role_groups"] = data["spec"].pop("roleGroups")
    data["spec"]["hosts"][0]["internal_address"] = "192.168.1.1"
    cluster = parse_config(to_yaml(data))
    assert cluster.spec.hosts[0].internal_address == "192.168.1.1"


def test_several_hosts_may_share_an_address_on_different_ports() -> None:
    data = base()
    for index, host in enumerate(data["spec"]["hosts"]):
        host["address"] = "127.0.0.1"
        host["port"] = 2201 + index
    cluster = parse_config(to_yaml(data))
    assert [host.port for host in cluster.resolved_hosts()] == [2201, 2202, 2203]


def test_multi_master_with_an_endpoint_is_valid() -> None:
    data = base()
    data["spec"]["roleGroups"]["master"] = ["node1", "node2"]
    data["spec"]["controlPlaneEndpoint"] = {"address": "10.213.0.100"}
    cluster = parse_config(to_yaml(data))
    assert [host.name for host in cluster.hosts_with_role("master")] == ["node1", "node2"]


def test_external_etcd_needs_no_etcd_hosts() -> None:
    data = base()
    del data["spec"]["roleGroups"]["etcd"]
    data["spec"]["etcd"] = {
        "type": "external",
        "external": {"endpoints": ["https://10.0.0.5:2379"], "caFile": "/etc/etcd/ca.pem"},
    }
    cluster = parse_config(to_yaml(data))
    assert cluster.spec.etcd.external.endpoints == ["https://10.0.0.5:2379"]
    assert cluster.hosts_with_role("etcd") == []


def test_empty_role_groups_may_be_null() -> None:
    text = to_yaml(base()).replace(
        "  roleGroups:\n", "  roleGroups:\n    loadbalancer:\n    registry: null\n", 1
    )
    assert "    loadbalancer:\n" in text
    cluster = parse_config(text)
    assert cluster.spec.role_groups.loadbalancer == []
    assert cluster.spec.role_groups.registry == []


def test_extra_args_accept_numbers_and_booleans_as_flag_values() -> None:
    data = base()
    data["spec"]["kubernetes"] = {"kubelet": {"extraArgs": {"max-pods": 110, "rotate": True}}}
    cluster = parse_config(to_yaml(data))
    assert cluster.spec.kubernetes.kubelet.extra_args == {"max-pods": "110", "rotate": "true"}
