"""What binary mode applies in place of kubeadm: valid objects for every version, and the
kubeconfigs of the cluster PKI read by a real kubectl."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from kubexms.kubernetes._layout import SUPPORTED_MINORS
from kubexms.kubernetes.binary import bootstrap_objects, corefile, to_manifest
from kubexms.kubernetes.binary._apply import apply_argv, cluster_objects_manifest
from kubexms.pki import PkiOptions, generate_pki
from tests.unit.kubernetes.sample import make_cluster

KUBECTL = Path("/usr/lib/google-cloud-sdk/bin/kubectl.1.31")
CA = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


@pytest.mark.parametrize("minor", SUPPORTED_MINORS)
def test_every_object_is_valid_for_the_version(minor: str) -> None:
    cluster = make_cluster(version=f"v{minor}.1", kubernetes={"type": "kubexm"})
    objects = bootstrap_objects(cluster, CA)
    for item in objects:
        kubernetes_validate.validate(item, f"{minor}.0", strict=True)
    names = [(item["kind"], item["metadata"]["name"]) for item in objects]
    assert len(set(names)) == len(names)


def test_the_validation_is_not_vacuous() -> None:
    item = bootstrap_objects(make_cluster(kubernetes={"type": "kubexm"}), CA)[0]
    item["roleRef"]["kindd"] = "ClusterRole"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(item, "1.31.0", strict=True)


def test_kubeadms_bindings_cluster_info_and_dns_objects() -> None:
    cluster = make_cluster(kubernetes={"type": "kubexm"})
    objects = {(o["kind"], o["metadata"]["name"]): o for o in bootstrap_objects(cluster, CA)}
    admins = objects[("ClusterRoleBinding", "kubeadm:cluster-admins")]
    assert admins["roleRef"]["name"] == "cluster-admin"
    assert admins["subjects"] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "kubeadm:cluster-admins"}
    ]
    proxier = objects[("ClusterRoleBinding", "kubeadm:node-proxier")]
    assert proxier["roleRef"]["name"] == "system:node-proxier"
    assert {s["name"] for s in proxier["subjects"]} == {"system:kube-proxy", "kube-proxy"}
    info = objects[("ConfigMap", "cluster-info")]
    assert info["metadata"]["namespace"] == "kube-public"
    kubeconfig = yaml.safe_load(info["data"]["kubeconfig"])
    assert kubeconfig["clusters"][0]["cluster"]["server"] == "https://api.demo.internal:6443"
    dns = objects[("Service", "kube-dns")]
    assert dns["spec"]["clusterIP"] == "10.233.0.10"
    assert "kubernetes cluster.local in-addr.arpa ip6.arpa" in corefile(cluster)
    assert objects[("ConfigMap", "coredns")]["data"]["Corefile"] == corefile(cluster)


def test_kubectl_applies_server_side_with_the_super_admin_kubeconfig_file() -> None:
    # admin.conf's group gets its rights from a binding in this apply: system:masters first.
    argv = apply_argv()
    assert argv[:3] == [
        "/usr/local/bin/kubectl",
        "--kubeconfig=/etc/kubernetes/super-admin.conf",
        "apply",
    ]
    assert "--server-side" in argv
    assert "--field-manager=kubexms" in argv


def _kubectl() -> Path:
    if not KUBECTL.is_file():
        pytest.fail(f"the real kubectl {KUBECTL} is missing (CI machines have it)")
    return KUBECTL


def _view(kubeconfig: Path) -> dict[str, object]:
    result = subprocess.run(
        [str(_kubectl()), "config", "view", "--raw", "-o", "json", f"--kubeconfig={kubeconfig}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    view: dict[str, object] = json.loads(result.stdout)
    return view


def test_a_real_kubectl_reads_every_kubeconfig_of_binary_mode(tmp_path: Path) -> None:
    cluster = make_cluster(kubernetes={"type": "kubexm"})
    generate_pki(cluster, tmp_path, options=PkiOptions(key_type="ecdsa"))
    for name in ("admin", "controller-manager", "scheduler", "kube-proxy", "kubelet-worker1"):
        view = _view(tmp_path / "kubeconfig" / f"{name}.conf")
        users = view["users"]
        assert isinstance(users, list)
        assert len(users) == 1
        assert users[0]["user"]["client-certificate-data"], name
    manifest = tmp_path / "objects.yaml"
    manifest.write_text(cluster_objects_manifest(cluster, tmp_path))
    info = next(
        doc for doc in yaml.safe_load_all(manifest.read_text()) if doc["kind"] == "ConfigMap"
    )
    (tmp_path / "cluster-info.conf").write_text(info["data"]["kubeconfig"])
    clusters = _view(tmp_path / "cluster-info.conf")["clusters"]
    assert clusters[0]["cluster"]["server"] == "https://api.demo.internal:6443"  # type: ignore[index]
    documents = [doc for doc in yaml.safe_load_all(manifest.read_text()) if doc]
    assert documents == bootstrap_objects(cluster, (tmp_path / "ca.crt").read_bytes())
    assert to_manifest([]) == ""
