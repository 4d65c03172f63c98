"""flannel's kube-flannel.yml as kubexms applies it: valid for every Kubernetes version of the
BOM, the pod CIDR and backend in net-conf.json, the pinned images."""

from __future__ import annotations

import json
from typing import Any

import kubernetes_validate
import pytest

from kubexms.artifacts import ImageRef
from kubexms.cni import ManifestError, dump_objects, flannel_manifest, flannel_objects, load_objects
from kubexms.cni._objects import KubeObject, find_object
from kubexms.config import Cluster, parse_config
from tests.unit.cni.upstream import bom_minors, kubernetes_version, upstream_manifest
from tests.unit.config.sample import to_yaml
from tests.unit.kubernetes.sample import cluster_data

MINORS = bom_minors()


def flannel_cluster(
    minor: str = "1.31", network: dict[str, Any] | None = None, **knobs: Any
) -> Cluster:
    data = cluster_data(version=kubernetes_version(minor), **knobs)
    data["spec"]["network"] = {"plugin": "flannel", **(network or {})}
    return parse_config(to_yaml(data))


def net_conf(objects: list[KubeObject]) -> dict[str, Any]:
    config = find_object(objects, "ConfigMap", "kube-flannel-cfg", "test")
    parsed: dict[str, Any] = json.loads(config["data"]["net-conf.json"])
    return parsed


def images(objects: list[KubeObject]) -> list[str]:
    spec = find_object(objects, "DaemonSet", "kube-flannel-ds", "test")["spec"]["template"]["spec"]
    return [item["image"] for item in spec["initContainers"] + spec["containers"]]


@pytest.mark.parametrize("minor", MINORS)
def test_every_object_validates_for_the_kubernetes_version(minor: str) -> None:
    text = upstream_manifest(minor, "flannel-manifest")
    for backend in ("vxlan", "host-gw", "wireguard"):
        cluster = flannel_cluster(
            minor, {"flannel": {"backend": backend}}, registry={"privateRegistry": "reg.example"}
        )
        objects = load_objects(flannel_manifest(cluster, text), "rendered")
        assert [obj["kind"] for obj in objects] == [
            "Namespace",
            "ClusterRole",
            "ClusterRoleBinding",
            "ServiceAccount",
            "ConfigMap",
            "DaemonSet",
        ]
        for obj in objects:
            kubernetes_validate.validate(obj, f"{minor}.0", strict=True)


@pytest.mark.parametrize("minor", MINORS)
def test_the_pod_cidr_and_backend_are_in_net_conf(minor: str) -> None:
    network = {
        "kubePodsCIDR": "172.20.0.0/16",
        "kubeServiceCIDR": "172.21.0.0/16",
        "flannel": {"backend": "host-gw"},
    }
    objects = flannel_objects(
        flannel_cluster(minor, network), upstream_manifest(minor, "flannel-manifest")
    )
    assert net_conf(objects) == {
        "Network": "172.20.0.0/16",
        "EnableNFTables": False,
        "Backend": {"Type": "host-gw"},
    }


def test_vxlan_is_the_default_backend() -> None:
    objects = flannel_objects(flannel_cluster(), upstream_manifest("1.31", "flannel-manifest"))
    assert net_conf(objects)["Backend"] == {"Type": "vxlan"}
    assert net_conf(objects)["Network"] == "10.233.64.0/18"


def test_the_images_are_the_pinned_ones_under_the_private_registry() -> None:
    text = upstream_manifest("1.32", "flannel-manifest")
    assert images(flannel_objects(flannel_cluster("1.32"), text)) == [
        "docker.io/flannel/flannel-cni-plugin:v1.6.2-flannel1",
        "docker.io/flannel/flannel:v0.26.7",
        "docker.io/flannel/flannel:v0.26.7",
    ]
    private = flannel_cluster("1.32", registry={"privateRegistry": "reg.example:5000/k8s"})
    for image in images(flannel_objects(private, text)):
        ref = ImageRef.parse(image)
        assert ref.registry == "reg.example:5000"
        assert ref.repository.startswith("k8s/flannel/flannel")


def test_a_net_conf_without_network_is_refused() -> None:
    objects = load_objects(upstream_manifest("1.31", "flannel-manifest"), "x")
    config = find_object(objects, "ConfigMap", "kube-flannel-cfg", "x")
    config["data"]["net-conf.json"] = '{"Backend": {"Type": "vxlan"}}'
    with pytest.raises(ManifestError, match=r"kube-flannel-cfg net-conf\.json has no Network"):
        flannel_objects(flannel_cluster(), dump_objects(objects), "kube-flannel.yml")


def test_a_net_conf_that_is_not_json_is_refused() -> None:
    objects = load_objects(upstream_manifest("1.31", "flannel-manifest"), "x")
    find_object(objects, "ConfigMap", "kube-flannel-cfg", "x")["data"]["net-conf.json"] = "{"
    with pytest.raises(ManifestError, match=r"net-conf\.json is not JSON"):
        flannel_objects(flannel_cluster(), dump_objects(objects), "kube-flannel.yml")


def test_a_manifest_without_the_daemonset_is_refused() -> None:
    objects = load_objects(upstream_manifest("1.31", "flannel-manifest"), "x")
    kept = [obj for obj in objects if obj["kind"] != "DaemonSet"]
    with pytest.raises(ManifestError, match="expected one DaemonSet kube-flannel-ds, found 0"):
        flannel_objects(flannel_cluster(), dump_objects(kept), "kube-flannel.yml")
