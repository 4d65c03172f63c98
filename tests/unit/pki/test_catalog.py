"""What the cluster file turns into: SANs, endpoints and which files exist for which hosts."""

from __future__ import annotations

from kubexms.pki import apiserver_sans, control_plane_url, plan_pki

from .support import cluster_document, make_cluster


def test_apiserver_sans_in_a_stable_order() -> None:
    assert apiserver_sans(make_cluster()) == [
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.corp.local",
        "localhost",
        "node1",
        "10.213.0.11",
        "10.213.0.11",
        "node2",
        "10.213.0.12",
        "192.168.7.12",
        "lb.kubexms.local",
        "10.213.0.100",
        "10.96.0.1",
        "127.0.0.1",
        "api.example.com",
        "203.0.113.7",
    ]


def test_host_name_addresses_and_ipv6_services() -> None:
    document = cluster_document()
    document["spec"]["hosts"][0]["address"] = "master1.example.net"
    document["spec"]["controlPlaneEndpoint"] = {}
    document["spec"]["roleGroups"]["master"] = ["node1"]
    document["spec"]["network"] = {
        "kubeServiceCIDR": "fd00:10:96::/112",
        "kubePodsCIDR": "10.244.0.0/16",
    }
    cluster = make_cluster(document)
    (apiserver,) = [s for s in plan_pki(cluster).certificates if s.name == "apiserver"]
    assert "DNS:master1.example.net" in apiserver.profile.san_strings
    assert "IP:fd00:10:96::1" in apiserver.profile.san_strings
    assert control_plane_url(cluster) == "https://master1.example.net:6443"


def test_endpoint_url_prefers_domain_then_address_then_first_master() -> None:
    document = cluster_document()
    assert control_plane_url(make_cluster(document)) == "https://lb.kubexms.local:6443"
    document["spec"]["controlPlaneEndpoint"] = {"address": "fd00::100", "port": 8443}
    assert control_plane_url(make_cluster(document)) == "https://[fd00::100]:8443"


def test_external_etcd_has_no_etcd_pki() -> None:
    document = cluster_document()
    document["spec"]["etcd"] = {
        "type": "external",
        "external": {"endpoints": ["https://10.0.0.5:2379"]},
    }
    document["spec"]["roleGroups"]["etcd"] = []
    plan = plan_pki(make_cluster(document))
    assert [spec.name for spec in plan.authorities] == ["ca", "front-proxy-ca"]
    assert [spec.name for spec in plan.certificates] == [
        "apiserver",
        "apiserver-kubelet-client",
        "front-proxy-client",
    ]


def test_kubelet_kubeconfigs_for_masters_and_workers_only() -> None:
    document = cluster_document()
    document["spec"]["hosts"].append({"name": "lb1", "address": "10.213.0.50"})
    document["spec"]["roleGroups"]["loadbalancer"] = ["lb1"]
    names = [spec.name for spec in plan_pki(make_cluster(document)).kubeconfigs]
    assert names == [
        "admin",
        "super-admin",
        "controller-manager",
        "scheduler",
        "kubelet-node1",
        "kubelet-node2",
        "kubelet-node3",
        "kubelet-node4",
    ]
