"""The strict schemas themselves: they reject what upstream rejects, so a pass means something."""

from __future__ import annotations

import json

import pytest

from tests.unit.kubernetes.k8s_schemas import MINORS, SCHEMA_DIR, problems, schema_for

KINDS = (
    "KubeletConfiguration",
    "KubeProxyConfiguration",
    "KubeSchedulerConfiguration",
    "InitConfiguration",
    "ClusterConfiguration",
    "JoinConfiguration",
)
API = {
    "KubeletConfiguration": "kubelet.config.k8s.io/v1beta1",
    "KubeProxyConfiguration": "kubeproxy.config.k8s.io/v1alpha1",
    "KubeSchedulerConfiguration": "kubescheduler.config.k8s.io/v1",
}


@pytest.mark.parametrize("minor", MINORS)
@pytest.mark.parametrize("kind", KINDS)
def test_every_schema_is_strict_and_names_its_source(kind: str, minor: str) -> None:
    schema = schema_for(kind, minor)
    assert "types.go" in schema["$comment"]
    for name, definition in schema["$defs"].items():
        if definition.get("type") == "object" and "properties" in definition:
            assert definition["additionalProperties"] is False, name


@pytest.mark.parametrize("minor", MINORS)
def test_component_configs_reject_unknown_fields_and_wrong_types(minor: str) -> None:
    kubelet = {"apiVersion": API["KubeletConfiguration"], "kind": "KubeletConfiguration"}
    assert problems({**kubelet, "cgroupDriver": "systemd"}, minor) == []
    assert problems({**kubelet, "cgroupdriver": "systemd"}, minor)  # case matters upstream
    assert problems({**kubelet, "clusterDNS": "10.0.0.10"}, minor)  # a list, not a string
    assert problems({**kubelet, "authentication": {"x509": {"clientCa": "x"}}}, minor)
    proxy = {"apiVersion": API["KubeProxyConfiguration"], "kind": "KubeProxyConfiguration"}
    assert problems({**proxy, "mode": "ipvs", "ipvs": {"scheduler": "rr"}}, minor) == []
    assert problems({**proxy, "ipvs": {"schedular": "rr"}}, minor)
    assert problems(
        {"apiVersion": "kubelet.config.k8s.io/v1", "kind": "KubeletConfiguration"}, minor
    )


def test_kubeadm_v1beta4_has_the_1_31_shape() -> None:
    cluster = {"apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "ClusterConfiguration"}
    assert problems({**cluster, "encryptionAlgorithm": "ECDSA-P256"}, "1.31") == []
    assert problems({**cluster, "encryptionAlgorithm": "ed25519"}, "1.31")
    named = {"apiServer": {"extraArgs": [{"name": "v", "value": "2"}]}}
    assert problems({**cluster, **named}, "1.31") == []
    assert problems({**cluster, "apiServer": {"extraArgs": {"v": "2"}}}, "1.31")  # v1beta3's map
    assert problems({**cluster, "apiServer": {"timeoutForControlPlane": "4m"}}, "1.31")  # gone
    # Required by the Go types: an external etcd names its endpoints and files.
    assert problems({**cluster, "etcd": {"external": {"endpoints": []}}}, "1.31")
    assert problems({**cluster, "etcd": {"local": {}}}, "1.31")  # dataDir
    join = {"apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "JoinConfiguration"}
    assert problems(join, "1.31")  # discovery is required
    token = {"token": "abcdef.0123456789abcdef", "caCertHashes": ["sha256:" + "0" * 64]}
    assert problems({**join, "discovery": {"bootstrapToken": token}}, "1.31") == []
    assert problems(
        {**join, "discovery": {"bootstrapToken": token, "file": {"kubeConfigPath": "k"}}}, "1.31"
    )
    init = {"apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "InitConfiguration"}
    assert problems({**init, "timeouts": {"kubeletHealthCheck": "4m0s"}}, "1.31") == []
    assert problems({**init, "timeouts": {"kubeletHealthCheck": "four minutes"}}, "1.31")
    assert problems({**init, "bootstrapTokens": [{"token": "not-a-token"}]}, "1.31")
    assert problems({**init, "nodeRegistration": {"name": "n"}}, "1.31")  # taints required


def test_generated_schemas_are_the_checked_in_ones() -> None:
    # Every minor has its own generated file: a newer minor's fields are not silently accepted
    # for an older one (e.g. kubelet fields added in 1.32+).
    files = sorted(path.name for path in SCHEMA_DIR.glob("*.json"))
    for kind in API:
        assert [f"{kind}-{minor}.json" for minor in MINORS] == [
            f for f in files if f.startswith(f"{kind}-")
        ]
    old = json.loads((SCHEMA_DIR / "KubeletConfiguration-1.31.json").read_text())
    new = json.loads((SCHEMA_DIR / "KubeletConfiguration-1.34.json").read_text())
    assert set(old["$defs"]["KubeletConfiguration"]["properties"]) < set(
        new["$defs"]["KubeletConfiguration"]["properties"]
    )
