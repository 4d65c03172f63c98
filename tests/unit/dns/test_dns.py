"""Cluster DNS: the image kubeadm deploys CoreDNS from is the one kubexms carries and pushes;
in binary mode kubexms's CoreDNS Deployment, and NodeLocal DNSCache when asked for, validate
for every Kubernetes version of the BOM and carry the cluster's DNS address and domain."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest

from kubexms.addons import AddonsModule
from kubexms.cni._objects import find_object
from kubexms.config import Cluster, ConfigError, parse_config
from kubexms.dns import (
    NODE_LOCAL_ADDRESS,
    coredns_image,
    dns_objects,
    node_local_corefile,
)
from kubexms.engine import PlanContext
from kubexms.kubernetes import cluster_configuration, cluster_dns
from tests.unit.cni.upstream import bom_minors, kubernetes_version
from tests.unit.config.sample import to_yaml
from tests.unit.kubernetes.sample import cluster_data

MINORS = bom_minors()
KUBEADM_DEFAULT_REPOSITORY = "registry.k8s.io"


def dns_cluster(
    minor: str = "1.31",
    mode: str = "kubeadm",
    node_local: bool = False,
    registry: dict[str, Any] | None = None,
    **kubernetes: Any,
) -> Cluster:
    data = cluster_data(
        version=kubernetes_version(minor),
        kubernetes={"type": mode, "dnsDomain": "corp.example", **kubernetes},
        registry=registry,
    )
    data["spec"]["network"] = {"nodeLocalDNS": node_local, "kubeServiceCIDR": "10.96.0.0/16"}
    return parse_config(to_yaml(data))


def kubeadm_dns_image(cluster: Cluster, tag: str) -> str:
    """The image kubeadm deploys CoreDNS from, by kubeadm's rule (GetDNSImage in
    cmd/kubeadm/app/images): dns.imageRepository, else imageRepository; the default
    repository gets "/coredns" appended; then "/coredns:<tag>"."""
    configuration = cluster_configuration(cluster)
    repository = (configuration.get("dns") or {}).get("imageRepository") or configuration[
        "imageRepository"
    ]
    if repository == KUBEADM_DEFAULT_REPOSITORY:
        repository += "/coredns"
    return f"{repository}/coredns:{tag}"


@pytest.mark.parametrize("minor", MINORS)
@pytest.mark.parametrize(
    "registry", [None, {"privateRegistry": "reg.example:5000"}, {"privateRegistry": "reg/k8s"}]
)
def test_kubeadm_deploys_coredns_from_the_image_kubexms_carries(
    minor: str, registry: dict[str, Any] | None
) -> None:
    cluster = dns_cluster(minor, registry=registry)
    carried = coredns_image(cluster)
    assert kubeadm_dns_image(cluster, carried.tag or "") == str(carried)
    if registry:
        assert str(carried).startswith(registry["privateRegistry"] + "/coredns/coredns:")
    assert dns_objects(cluster) == []  # kubeadm deploys CoreDNS; kubexms applies nothing


@pytest.mark.parametrize("minor", MINORS)
@pytest.mark.parametrize("node_local", [False, True])
def test_binary_mode_dns_objects_validate_for_the_version(minor: str, node_local: bool) -> None:
    cluster = dns_cluster(minor, "kubexm", node_local, {"privateRegistry": "reg.example:5000"})
    objects = dns_objects(cluster)
    assert [obj["kind"] for obj in objects][:1] == ["Deployment"]
    assert len(objects) == (6 if node_local else 1)
    for obj in objects:
        kubernetes_validate.validate(obj, f"{minor}.0", strict=True)
    deployment = find_object(objects, "Deployment", "coredns", "test")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == str(coredns_image(cluster))
    assert container["image"].startswith("reg.example:5000/coredns/coredns:")
    # the kube-dns Service (binary mode's control-plane phase) selects these pods
    assert deployment["spec"]["template"]["metadata"]["labels"] == {"k8s-app": "kube-dns"}


def test_node_local_dns_answers_on_its_address_and_the_cluster_dns_address() -> None:
    cluster = dns_cluster(node_local=True)
    assert cluster_dns(cluster) == "10.96.0.10"
    corefile = node_local_corefile(cluster)
    assert corefile.startswith("corp.example:53 {")
    assert corefile.count(f"bind {NODE_LOCAL_ADDRESS} 10.96.0.10") == 4
    objects = dns_objects(cluster)
    daemonset = find_object(objects, "DaemonSet", "node-local-dns", "test")
    (container,) = daemonset["spec"]["template"]["spec"]["containers"]
    assert container["args"][:2] == ["-localip", f"{NODE_LOCAL_ADDRESS},10.96.0.10"]
    assert container["image"] == "registry.k8s.io/dns/k8s-dns-node-cache:1.23.1"
    assert daemonset["spec"]["template"]["spec"]["hostNetwork"] is True


def test_node_local_dns_with_ipvs_is_a_field_path_error() -> None:
    with pytest.raises(ConfigError, match=r"spec\.network\.nodeLocalDNS: needs"):
        dns_cluster(node_local=True, kubeProxy={"mode": "ipvs"})


def test_the_addons_phase_applies_dns_first_and_nothing_when_there_is_nothing() -> None:
    binary = dns_cluster(mode="kubexm")
    tasks = AddonsModule().tasks(PlanContext.for_cluster(binary))
    assert [task.name for task in tasks] == ["tools", "dns"]
    assert AddonsModule.artifact_components(binary) == frozenset({"kubectl"})
    assert AddonsModule().tasks(PlanContext.for_cluster(dns_cluster())) == []
    assert AddonsModule.host_roles(dns_cluster()) == frozenset()
