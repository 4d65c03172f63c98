"""Calico's upstream manifest as kubexms applies it: valid for every Kubernetes version of the
BOM, with the pod CIDR, encapsulation, MTU and images where calico-node reads them."""

from __future__ import annotations

import copy
from typing import Any

import kubernetes_validate
import pytest

from kubexms.artifacts import ImageRef
from kubexms.cni import ManifestError, calico_manifest, calico_objects, load_objects
from kubexms.cni._objects import KubeObject, env_value, find_object
from kubexms.config import Cluster, parse_config
from tests.unit.cni.upstream import bom_minors, kubernetes_version, upstream_manifest
from tests.unit.config.sample import to_yaml
from tests.unit.kubernetes.sample import cluster_data, make_cluster

MINORS = bom_minors()


def calico_cluster(
    minor: str = "1.31", network: dict[str, Any] | None = None, **knobs: Any
) -> Cluster:
    data = cluster_data(version=kubernetes_version(minor), **knobs)
    data["spec"]["network"] = {"plugin": "calico", **(network or {})}
    return parse_config(to_yaml(data))


def node_container(objects: list[KubeObject]) -> dict[str, Any]:
    daemonset = find_object(objects, "DaemonSet", "calico-node", "test")
    (node,) = [
        c for c in daemonset["spec"]["template"]["spec"]["containers"] if c["name"] == "calico-node"
    ]
    assert isinstance(node, dict)
    return node


def config_data(objects: list[KubeObject]) -> dict[str, str]:
    data: dict[str, str] = find_object(objects, "ConfigMap", "calico-config", "test")["data"]
    return data


@pytest.mark.parametrize("minor", MINORS)
def test_every_object_validates_for_the_kubernetes_version(minor: str) -> None:
    registry = {"privateRegistry": "reg.example:5000"}
    text = upstream_manifest(minor, "calico-manifests")
    cluster = calico_cluster(minor, {"calico": {"mode": "vxlan", "mtu": 1400}}, registry=registry)
    objects = load_objects(calico_manifest(cluster, text), "rendered")
    assert objects == calico_objects(cluster, text)  # the written manifest is the objects
    assert len(objects) > 20
    for obj in objects:
        # strict: a field this Kubernetes version does not know is an error, not ignored.
        kubernetes_validate.validate(obj, f"{minor}.0", strict=True)
    for mode in ("ipip", "none"):  # the modes change calico-config and calico-node only
        other = calico_objects(calico_cluster(minor, {"calico": {"mode": mode}}), text)
        for changed in (
            find_object(other, "ConfigMap", "calico-config", "test"),
            find_object(other, "DaemonSet", "calico-node", "test"),
        ):
            kubernetes_validate.validate(changed, f"{minor}.0", strict=True)


def test_the_schema_check_catches_a_broken_object() -> None:
    objects = calico_objects(calico_cluster(), upstream_manifest("1.31", "calico-manifests"))
    node = node_container(objects)
    node["env"][0]["value"] = 42  # env values are strings
    daemonset = find_object(objects, "DaemonSet", "calico-node", "test")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(daemonset, "1.31.0", strict=True)


@pytest.mark.parametrize("minor", MINORS)
def test_the_pod_cidr_is_the_ipv4_pool(minor: str) -> None:
    data_network = {"kubePodsCIDR": "10.100.0.0/16", "kubeServiceCIDR": "10.96.0.0/16"}
    objects = calico_objects(
        calico_cluster(minor, data_network), upstream_manifest(minor, "calico-manifests")
    )
    node = node_container(objects)
    assert env_value(node, "CALICO_IPV4POOL_CIDR") == "10.100.0.0/16"
    assert [e["name"] for e in node["env"]].count("CALICO_IPV4POOL_CIDR") == 1


@pytest.mark.parametrize(
    ("mode", "backend", "ipip", "vxlan", "bird_checks"),
    [
        ("vxlan", "vxlan", "Never", "Always", False),
        ("ipip", "bird", "Always", "Never", True),
        ("none", "bird", "Never", "Never", True),
    ],
)
@pytest.mark.parametrize("minor", MINORS)
def test_the_encapsulation_is_where_calico_node_reads_it(
    minor: str, mode: str, backend: str, ipip: str, vxlan: str, bird_checks: bool
) -> None:
    objects = calico_objects(
        calico_cluster(minor, {"calico": {"mode": mode}}),
        upstream_manifest(minor, "calico-manifests"),
    )
    node = node_container(objects)
    assert env_value(node, "CALICO_IPV4POOL_IPIP") == ipip
    assert env_value(node, "CALICO_IPV4POOL_VXLAN") == vxlan
    assert config_data(objects)["calico_backend"] == backend
    # calico-node reads its backend from the ConfigMap: the env entry must still point there.
    (entry,) = [e for e in node["env"] if e["name"] == "CALICO_NETWORKING_BACKEND"]
    assert entry["valueFrom"]["configMapKeyRef"] == {
        "name": "calico-config",
        "key": "calico_backend",
    }
    probes = node["livenessProbe"]["exec"]["command"] + node["readinessProbe"]["exec"]["command"]
    assert ("-bird-live" in probes and "-bird-ready" in probes) is bird_checks
    assert "-felix-live" in probes
    assert "-felix-ready" in probes


def test_vxlan_is_the_default_mode() -> None:
    objects = calico_objects(calico_cluster(), upstream_manifest("1.31", "calico-manifests"))
    assert env_value(node_container(objects), "CALICO_IPV4POOL_VXLAN") == "Always"


@pytest.mark.parametrize(("mtu", "veth"), [(None, "0"), (0, "0"), (1440, "1440")])
def test_the_mtu_is_veth_mtu_of_calico_config(mtu: int | None, veth: str) -> None:
    network = {} if mtu is None else {"calico": {"mtu": mtu}}
    objects = calico_objects(
        calico_cluster("1.33", network), upstream_manifest("1.33", "calico-manifests")
    )
    assert config_data(objects)["veth_mtu"] == veth
    node = node_container(objects)
    # the tunnel MTUs read veth_mtu from the ConfigMap; kubexms leaves those references alone
    for name in ("FELIX_IPINIPMTU", "FELIX_VXLANMTU", "FELIX_WIREGUARDMTU"):
        (entry,) = [e for e in node["env"] if e["name"] == name]
        assert entry["valueFrom"]["configMapKeyRef"] == {"name": "calico-config", "key": "veth_mtu"}


def _images(objects: list[KubeObject]) -> set[str]:
    found = set()
    for obj in objects:
        spec = obj.get("spec", {}).get("template", {}).get("spec", {})
        for item in spec.get("initContainers", []) + spec.get("containers", []):
            found.add(item["image"])
    return found


@pytest.mark.parametrize("minor", MINORS)
def test_images_are_the_pinned_ones(minor: str) -> None:
    from tests.unit.cni.upstream import manifest_version

    version = manifest_version(minor, "calico-manifests")
    objects = calico_objects(calico_cluster(minor), upstream_manifest(minor, "calico-manifests"))
    assert _images(objects) == {
        f"quay.io/calico/{name}:{version}" for name in ("node", "cni", "kube-controllers")
    }


@pytest.mark.parametrize("registry", ["reg.example:5000", "reg.example:5000/mirror"])
def test_images_come_from_the_private_registry(registry: str) -> None:
    cluster = calico_cluster("1.34", registry={"privateRegistry": registry})
    objects = calico_objects(cluster, upstream_manifest("1.34", "calico-manifests"))
    images = _images(objects)
    assert len(images) == 3
    for image in images:
        ref = ImageRef.parse(image)
        assert f"{ref.registry}/{ref.repository}".startswith(f"{registry}/calico/")
        assert ref.tag == "v3.30.5"


def _without_changes(objects: list[KubeObject]) -> list[KubeObject]:
    """The objects with what kubexms changes taken out, to compare with upstream."""
    objects = copy.deepcopy(objects)
    for obj in objects:
        spec = obj.get("spec", {}).get("template", {}).get("spec", {})
        for item in spec.get("initContainers", []) + spec.get("containers", []):
            item.pop("image")
            for key in ("env",):
                item[key] = [
                    e for e in item.get(key, []) if not e["name"].startswith("CALICO_IPV4POOL_")
                ]
    find_object(objects, "ConfigMap", "calico-config", "test")["data"].pop("veth_mtu")
    return objects


@pytest.mark.parametrize("minor", MINORS)
def test_nothing_else_changes_in_ipip_mode(minor: str) -> None:
    text = upstream_manifest(minor, "calico-manifests")
    objects = calico_objects(calico_cluster(minor, {"calico": {"mode": "ipip", "mtu": 1400}}), text)
    assert _without_changes(objects) == _without_changes(load_objects(text, "upstream"))


def test_a_manifest_without_calico_config_is_refused() -> None:
    text = upstream_manifest("1.31", "calico-manifests")
    objects = [o for o in load_objects(text, "x") if o["metadata"]["name"] != "calico-config"]
    from kubexms.cni import dump_objects

    with pytest.raises(ManifestError, match="expected one ConfigMap calico-config, found 0"):
        calico_objects(calico_cluster(), dump_objects(objects), "calico.yaml")


def test_an_image_the_list_does_not_pin_is_refused() -> None:
    text = upstream_manifest("1.31", "calico-manifests").replace(
        "docker.io/calico/kube-controllers:v3.29.7", "docker.io/calico/typha:v3.29.7"
    )
    with pytest.raises(
        ManifestError, match=r"calico/typha:v3.29.7, which is not in the image list"
    ):
        calico_objects(calico_cluster(), text)


def test_a_manifest_of_another_version_than_the_images_is_refused() -> None:
    # the 1.33 manifest (v3.30.5) with the 1.31 image list (v3.29.7)
    with pytest.raises(ManifestError, match=r"the image list pins quay\.io/calico/.*:v3\.29\.7"):
        calico_objects(calico_cluster("1.31"), upstream_manifest("1.33", "calico-manifests"))


def test_a_manifest_that_is_not_yaml_is_refused() -> None:
    with pytest.raises(ManifestError, match=r"calico\.yaml: not valid YAML"):
        calico_objects(calico_cluster(), "kind: [", "calico.yaml")


def test_make_cluster_defaults_to_calico() -> None:
    assert make_cluster().spec.network.plugin == "calico"
