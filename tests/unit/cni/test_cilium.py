"""Cilium's Helm values and the helm command line that installs it."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from kubexms.artifacts import cluster_images
from kubexms.cni import cilium_helm_argv, cilium_values, cilium_values_yaml, helm_upgrade_argv
from kubexms.config import Cluster, parse_config
from tests.unit.config.sample import to_yaml
from tests.unit.kubernetes.sample import cluster_data


def cilium_cluster(network: dict[str, Any] | None = None, **knobs: Any) -> Cluster:
    data = cluster_data(**knobs)
    data["spec"]["network"] = {"plugin": "cilium", **(network or {})}
    return parse_config(to_yaml(data))


def test_default_values_keep_kube_proxy_and_use_kubernetes_ipam_with_the_pod_cidr() -> None:
    values = cilium_values(cilium_cluster({"kubePodsCIDR": "10.200.0.0/16"}))
    assert values == {
        "kubeProxyReplacement": False,
        "ipam": {"mode": "kubernetes"},
        "k8s": {"requireIPv4PodCIDR": True},
        "ipv4NativeRoutingCIDR": "10.200.0.0/16",
        "routingMode": "tunnel",
        "tunnelProtocol": "vxlan",
    }


def test_kube_proxy_replacement_names_the_api_server_endpoint() -> None:
    values = cilium_values(cilium_cluster({"cilium": {"kubeProxyReplacement": True}}))
    assert values["kubeProxyReplacement"] is True
    assert values["k8sServiceHost"] == "api.demo.internal"
    assert values["k8sServicePort"] == 6443


def test_kube_proxy_replacement_with_one_master_and_no_endpoint_uses_its_address() -> None:
    cluster = cilium_cluster({"cilium": {"kubeProxyReplacement": True}}, masters=1, endpoint={})
    assert cilium_values(cluster)["k8sServiceHost"] == "10.213.0.11"


def test_images_come_from_the_private_registry() -> None:
    registry = {
        "privateRegistry": "reg.example:5000/mirror",
        "auths": {"reg.example:5000": {"username": "admin", "password": "s3cret-pw"}},
    }
    cluster = cilium_cluster(registry=registry)
    values = cilium_values(cluster)
    assert values["image"] == {
        "repository": "reg.example:5000/mirror/cilium/cilium",
        "tag": "v1.16.6",
        "useDigest": False,
    }
    assert values["operator"]["image"] == {
        "repository": "reg.example:5000/mirror/cilium/operator",  # the chart adds -generic
        "tag": "v1.16.6",
        "useDigest": False,
        "suffix": "",
    }
    assert values["envoy"]["image"]["repository"] == "reg.example:5000/mirror/cilium/cilium-envoy"
    assert values["envoy"]["image"]["tag"].startswith("v1.30.9-")
    # what the bundle carries and pushes: the same images
    carried = {str(image.ref) for image in cluster_images(cluster, phases={"cni"})}
    assert carried == {
        "quay.io/cilium/cilium:v1.16.6",
        "quay.io/cilium/operator-generic:v1.16.6",
        f"quay.io/cilium/cilium-envoy:{values['envoy']['image']['tag']}",
    }
    assert "s3cret-pw" not in cilium_values_yaml(cluster)


def test_the_values_document_is_the_values() -> None:
    cluster = cilium_cluster()
    assert yaml.safe_load(cilium_values_yaml(cluster)) == cilium_values(cluster)


def test_the_helm_command_installs_from_the_local_chart_with_the_admin_kubeconfig() -> None:
    argv = cilium_helm_argv(
        "/var/lib/kubexms/cni/cilium-1.16.5.tgz", "/etc/kubexms/cni/cilium-values.yaml"
    )
    assert argv == [
        "/usr/local/bin/helm",
        "upgrade",
        "--install",
        "cilium",
        "/var/lib/kubexms/cni/cilium-1.16.5.tgz",
        "--kubeconfig=/etc/kubernetes/admin.conf",
        "--namespace=kube-system",
        "--create-namespace",
        "--wait",
        "--timeout=600s",
        "--values=/etc/kubexms/cni/cilium-values.yaml",
    ]


def test_helm_from_a_repository_with_a_version_and_values_files_in_order() -> None:
    argv = helm_upgrade_argv(
        "ingress",
        "ingress-nginx",
        namespace="ingress",
        repo="https://kubernetes.github.io/ingress-nginx",
        version="4.11.3",
        values_files=["/tmp/a.yaml", "/tmp/b.yaml"],
        timeout_seconds=120,
    )
    assert argv[3:5] == ["ingress", "ingress-nginx"]
    assert "--repo=https://kubernetes.github.io/ingress-nginx" in argv
    assert "--version=4.11.3" in argv
    assert "--timeout=120s" in argv
    assert [a for a in argv if a.startswith("--values=")] == [
        "--values=/tmp/a.yaml",
        "--values=/tmp/b.yaml",
    ]


@pytest.mark.parametrize(
    ("release", "chart", "values", "message"),
    [
        ("Bad_Name", "/c.tgz", [], "not a Helm release name"),
        ("x" * 54, "/c.tgz", [], "not a Helm release name"),
        ("ok", "c.tgz", [], "the chart must be an absolute path"),
        ("ok", "/c.tgz", ["values.yaml"], "the values file must be an absolute path"),
    ],
)
def test_helm_refuses_what_it_would_misread(
    release: str, chart: str, values: list[str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        helm_upgrade_argv(release, chart, namespace="default", values_files=values)
