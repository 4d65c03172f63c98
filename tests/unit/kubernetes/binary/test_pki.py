"""What binary mode adds to the cluster PKI, and which of its files go where."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kubexms.kubernetes.binary import BinaryControlPlaneModule, master_pki_files, node_pki_files
from kubexms.pki import PkiOptions, generate_pki, parse_kubeconfig, plan_pki
from tests.unit.kubernetes.sample import make_cluster


def test_kubeadm_mode_gets_none_of_the_binary_mode_items() -> None:
    plan = plan_pki(make_cluster())
    names = {spec.name for spec in plan.certificates} | {spec.name for spec in plan.kubeconfigs}
    assert not {name for name in names if name.startswith("kubelet-serving-")}
    assert "kube-proxy" not in names


def test_binary_mode_gets_serving_certificates_and_a_kube_proxy_kubeconfig(
    tmp_path: Path,
) -> None:
    cluster = make_cluster(kubernetes={"type": "kubexm"})
    generate_pki(
        cluster,
        tmp_path,
        options=PkiOptions(key_type="ecdsa"),
        only=BinaryControlPlaneModule.pki_names(cluster),
    )
    ca = x509.load_pem_x509_certificate((tmp_path / "ca.crt").read_bytes())
    for node, address in (("master1", "10.213.0.11"), ("worker2", "10.213.0.15")):
        cert = x509.load_pem_x509_certificate(
            (tmp_path / f"kubelet-serving-{node}.crt").read_bytes()
        )
        assert cert.issuer == ca.subject
        assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
            f"system:node:{node}"
        )
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert node in sans.get_values_for_type(x509.DNSName)
        assert ipaddress.ip_address(address) in sans.get_values_for_type(x509.IPAddress)
        usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        assert list(usages) == [ExtendedKeyUsageOID.SERVER_AUTH]
    proxy = parse_kubeconfig((tmp_path / "kubeconfig" / "kube-proxy.conf").read_bytes())
    assert proxy.server == "https://api.demo.internal:6443"
    client = x509.load_pem_x509_certificate(proxy.cert_pem)
    assert client.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        "system:kube-proxy"
    )


@pytest.mark.parametrize("etcd", ["kubexm", "external"])
def test_every_placed_source_is_in_the_generated_pki(etcd: str, tmp_path: Path) -> None:
    spec = (
        {}
        if etcd == "kubexm"
        else {"type": "external", "external": {"endpoints": ["https://10.0.0.5:2379"]}}
    )
    cluster = make_cluster(etcd=spec, kubernetes={"type": "kubexm"})
    generate_pki(
        cluster,
        tmp_path,
        options=PkiOptions(key_type="ecdsa"),
        only=BinaryControlPlaneModule.pki_names(cluster),
    )
    files = [*master_pki_files(cluster), *node_pki_files(with_ca=True)]
    for host in ("master1", "worker1"):
        for item in files:
            assert (tmp_path / item.source_for(host)).is_file(), item.source
    dests = {item.dest for item in master_pki_files(cluster)}
    assert ("/etc/kubernetes/pki/apiserver-etcd-client.key" in dests) == (etcd == "kubexm")
    modes = {item.dest: item.wanted_mode for item in files}
    assert modes["/var/lib/kubelet/pki/kubelet.key"] == 0o600
    assert modes["/etc/kubernetes/kube-proxy.conf"] == 0o600
    assert modes["/etc/kubernetes/pki/ca.crt"] == 0o644
