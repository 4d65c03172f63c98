"""kubeadm's configuration files as rendered from the cluster file, checked against the strict
upstream-derived schemas for every supported minor and for what each field must say."""

from __future__ import annotations

import datetime
import hashlib
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kubexms.kubernetes import (
    BootstrapToken,
    BootstrapTokenError,
    bootstrap_token_path,
    ca_cert_hash,
    cluster_configuration,
    cluster_dns,
    init_documents,
    join_documents,
    kube_proxy_configuration,
    kubelet_configuration,
    stored_bootstrap_token,
    to_yaml,
)
from tests.unit.config.sample import issues_of
from tests.unit.config.sample import to_yaml as config_yaml
from tests.unit.kubernetes.k8s_schemas import MINORS, assert_valid_yaml, problems
from tests.unit.kubernetes.sample import cluster_data, make_cluster

TOKEN = BootstrapToken("abcdef", "0123456789abcdef")
HASH = "sha256:" + "ab" * 32
VARIANTS: dict[str, dict[str, Any]] = {
    "external-etcd-kubexm": {},
    "stacked-etcd": {
        "etcd": {"type": "kubeadm", "snapshotCount": 5000, "extraArgs": {"max-txn-ops": "256"}}
    },
    "user-etcd": {
        "etcd": {"type": "external", "external": {"endpoints": ["https://10.0.0.5:2379"]}}
    },
    "ipvs-ecdsa-private-registry": {
        "kubernetes": {
            "kubeProxy": {"mode": "ipvs"},
            "certificates": {"keyType": "ecdsa"},
            "apiServer": {"extraArgs": {"audit-log-maxage": 30}, "certSANs": ["k8s.example.com"]},
            "kubelet": {"extraArgs": {"max-pods": "200"}},
        },
        "registry": {"privateRegistry": "reg.demo.internal:5000/mirror"},
    },
    "one-master-no-endpoint": {"endpoint": {}, "masters": 1},
}


@pytest.mark.parametrize("minor", MINORS)
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_rendered_document_is_valid_for_every_minor(variant: str, minor: str) -> None:
    cluster = make_cluster(version=f"v{minor}.2", **VARIANTS[variant])
    init = to_yaml(init_documents(cluster, TOKEN))
    kinds = ["InitConfiguration", "ClusterConfiguration", "KubeletConfiguration"]
    assert_valid_yaml(init, minor, [*kinds, "KubeProxyConfiguration"])
    masters = [host.name for host in cluster.hosts_with_role("master")]
    for host in [*masters[1:2], "worker1"]:
        assert_valid_yaml(to_yaml(join_documents(cluster, host, TOKEN, [HASH])), minor)


def test_cluster_configuration_says_what_the_cluster_file_says() -> None:
    cluster = make_cluster(**VARIANTS["ipvs-ecdsa-private-registry"])
    document = cluster_configuration(cluster)
    assert document["kubernetesVersion"] == "v1.31.4"
    assert document["controlPlaneEndpoint"] == "api.demo.internal:6443"
    assert document["networking"] == {
        "podSubnet": "10.233.64.0/18",
        "serviceSubnet": "10.233.0.0/18",
        "dnsDomain": "cluster.local",
    }
    assert document["imageRepository"] == "reg.demo.internal:5000/mirror"
    assert document["dns"] == {"imageRepository": "reg.demo.internal:5000/mirror/coredns"}
    assert document["encryptionAlgorithm"] == "ECDSA-P256"
    assert document["apiServer"]["extraArgs"] == [{"name": "audit-log-maxage", "value": "30"}]
    assert document["apiServer"]["certSANs"][:2] == ["api.demo.internal", "10.213.0.100"]
    assert document["apiServer"]["certSANs"][-1] == "k8s.example.com"
    assert "master3" in document["apiServer"]["certSANs"]
    assert kube_proxy_configuration(cluster)["mode"] == "ipvs"


def test_etcd_is_external_with_the_etcd_phase_pki_or_local_when_kubeadm_runs_it() -> None:
    external = cluster_configuration(make_cluster())["etcd"]
    assert external == {
        "external": {
            "endpoints": [f"https://10.213.0.{n}:2379" for n in (11, 12, 13)],
            "caFile": "/etc/kubernetes/pki/etcd/ca.crt",
            "certFile": "/etc/kubernetes/pki/apiserver-etcd-client.crt",
            "keyFile": "/etc/kubernetes/pki/apiserver-etcd-client.key",
        }
    }
    user = cluster_configuration(make_cluster(**VARIANTS["user-etcd"]))["etcd"]
    assert user["external"]["endpoints"] == ["https://10.0.0.5:2379"]
    stacked = cluster_configuration(make_cluster(**VARIANTS["stacked-etcd"]))["etcd"]
    assert stacked["local"]["dataDir"] == "/var/lib/etcd"
    assert stacked["local"]["extraArgs"] == [
        {"name": "auto-compaction-retention", "value": "8"},
        {"name": "election-timeout", "value": "5000"},
        {"name": "heartbeat-interval", "value": "250"},
        {"name": "max-txn-ops", "value": "256"},
        {"name": "quota-backend-bytes", "value": str(2 * 1024**3)},
        {"name": "snapshot-count", "value": "5000"},
    ]


def test_kubelet_uses_systemd_cgroups_and_the_tenth_service_address_for_dns() -> None:
    cluster = make_cluster()
    document = kubelet_configuration(cluster)
    assert document["cgroupDriver"] == "systemd"
    assert document["clusterDNS"] == ["10.233.0.10"] == [cluster_dns(cluster)]
    assert document["clusterDomain"] == "cluster.local"


def test_joins_pin_the_ca_and_only_masters_join_the_control_plane() -> None:
    cluster = make_cluster()
    (master,) = join_documents(cluster, "master2", TOKEN, [HASH])
    (worker,) = join_documents(cluster, "worker1", TOKEN, [HASH])
    assert master["controlPlane"]["localAPIEndpoint"]["advertiseAddress"] == "10.213.0.12"
    assert "controlPlane" not in worker
    assert worker["nodeRegistration"]["taints"] == []
    assert master["nodeRegistration"]["taints"][0]["effect"] == "NoSchedule"
    discovery = worker["discovery"]["bootstrapToken"]
    assert discovery == {
        "token": "abcdef.0123456789abcdef",
        "apiServerEndpoint": "api.demo.internal:6443",
        "caCertHashes": [HASH],
    }
    with pytest.raises(ValueError, match="hash"):
        join_documents(cluster, "worker1", TOKEN, [])


def test_one_master_without_an_endpoint_uses_its_address() -> None:
    cluster = make_cluster(endpoint={}, masters=1)
    assert cluster_configuration(cluster)["controlPlaneEndpoint"] == "10.213.0.11:6443"


def test_a_typo_in_a_rendered_document_would_be_caught() -> None:
    # The validation is not vacuous: a document one key off from what was rendered fails.
    document = kubelet_configuration(make_cluster())
    document["clusterDns"] = document.pop("clusterDNS")
    assert problems(document, "1.31")
    init = yaml.safe_load(to_yaml(init_documents(make_cluster(), TOKEN)[:1]))
    init["nodeRegistration"]["kubeletExtraArgs"] = {"node-ip": "10.0.0.1"}
    assert problems(init, "1.31")


def test_bootstrap_tokens_are_random_well_formed_and_hidden_from_repr() -> None:
    first, second = BootstrapToken.generate(), BootstrapToken.generate()
    assert first != second
    assert BootstrapToken.parse(first.value) == first
    assert first.token_secret not in repr(first)
    with pytest.raises(ValueError, match="not a bootstrap token") as refused:
        BootstrapToken.parse("abcdef.short")
    assert "short" not in str(refused.value)


def _ca(tmp_path: Path) -> Path:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path = tmp_path / "ca.crt"
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return path


def test_ca_cert_hash_is_kubeadms_spki_pin_as_openssl_computes_it(tmp_path: Path) -> None:
    ca = _ca(tmp_path)
    # The recipe kubeadm's documentation gives for --discovery-token-ca-cert-hash.
    pubkey = subprocess.run(
        ["openssl", "x509", "-pubkey", "-noout", "-in", str(ca)],
        check=True,
        capture_output=True,
    ).stdout
    der = subprocess.run(
        ["openssl", "pkey", "-pubin", "-outform", "der"],
        input=pubkey,
        check=True,
        capture_output=True,
    ).stdout
    assert ca_cert_hash(ca.read_bytes()) == "sha256:" + hashlib.sha256(der).hexdigest()


def test_kubelet_settings_from_the_cluster_file_are_merged_and_valid() -> None:
    cluster = make_cluster(
        version="v1.33.1",
        kubernetes={
            "kubelet": {
                "config": {
                    "maxPods": 200,
                    "evictionHard": {"memory.available": "200Mi"},
                    "serializeImagePulls": False,
                    "userNamespaces": {"idsPerPod": 65536},
                }
            }
        },
    )
    document = kubelet_configuration(cluster)
    assert document["maxPods"] == 200
    assert document["evictionHard"] == {"memory.available": "200Mi"}
    assert document["cgroupDriver"] == "systemd"
    assert problems(document, "1.33") == []


def test_kubelet_settings_are_checked_with_their_field_path() -> None:
    text = to_yaml_file(
        kubernetes={
            "kubelet": {
                "config": {
                    "maxpods": 10,
                    "maxPods": "many",
                    "clusterDNS": ["1.1.1.1"],
                    "userNamespaces": {},
                    "failSwapOn": 0,
                }
            }
        }
    )
    found = {issue.path: issue.message for issue in issues_of(text)}
    base = "spec.kubernetes.kubelet.config."
    assert "did you mean 'maxPods'" in found[base + "maxpods"]
    assert "must be a JSON integer" in found[base + "maxPods"]
    assert "spec.network.kubeServiceCIDR" in found[base + "clusterDNS"]
    assert "from 1.33 on (kubernetes.version is v1.31.4)" in found[base + "userNamespaces"]
    assert "must be a JSON boolean" in found[base + "failSwapOn"]
    assert len(found) == 5


def to_yaml_file(**knobs: Any) -> str:
    return config_yaml(cluster_data(**knobs))


def test_the_stored_token_is_made_once_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "work" / "kubernetes" / "bootstrap-token"
    first = stored_bootstrap_token(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert stored_bootstrap_token(path) == first
    path.write_text("garbage")
    with pytest.raises(BootstrapTokenError, match="remove it") as refused:
        stored_bootstrap_token(path)
    assert "garbage" not in str(refused.value)
    cluster = make_cluster()
    assert bootstrap_token_path(cluster) == cluster.work_dir / "kubernetes" / "bootstrap-token"
