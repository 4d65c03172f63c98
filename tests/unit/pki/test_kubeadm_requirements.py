"""Every certificate against kubeadm's documented requirements, judged by openssl.

The expected subject, kind and SANs per certificate come from "PKI certificates and
requirements" (kubernetes.io) as kubeadm v1.29+ applies it (``kubeadm:cluster-admins`` for
admin.conf and apiserver-kubelet-client, ``system:masters`` only for super-admin.conf, no
organization on the etcd client certificates).
"""

from __future__ import annotations

import base64
import json
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from kubexms.pki import Action, PkiReport, parse_kubeconfig

from .support import openssl, openssl_refusal, openssl_verify, openssl_view

SERVER = frozenset({"TLS Web Server Authentication"})
CLIENT = frozenset({"TLS Web Client Authentication"})
BOTH = SERVER | CLIENT
RSA_USAGE = frozenset({"Digital Signature", "Key Encipherment"})
CA_USAGE = RSA_USAGE | {"Certificate Sign"}

CAS = {"ca": "kubernetes-ca", "front-proxy-ca": "kubernetes-front-proxy-ca", "etcd/ca": "etcd-ca"}

APISERVER_SANS = {
    "DNS:kubernetes",
    "DNS:kubernetes.default",
    "DNS:kubernetes.default.svc",
    "DNS:kubernetes.default.svc.corp.local",
    "DNS:localhost",
    "DNS:node1",
    "DNS:node2",
    "DNS:lb.kubexms.local",
    "DNS:api.example.com",
    "IP:10.213.0.11",
    "IP:10.213.0.12",
    "IP:192.168.7.12",
    "IP:10.213.0.100",
    "IP:10.96.0.1",
    "IP:127.0.0.1",
    "IP:203.0.113.7",
}


def etcd_sans(name: str, *addresses: str) -> set[str]:
    return {f"DNS:{name}", "DNS:localhost", "IP:127.0.0.1", "IP:::1"} | {
        f"IP:{address}" for address in addresses
    }


# name: (CA, CN, O, extended key usages, SANs)
LEAVES: dict[str, tuple[str, str, list[str], frozenset[str], set[str]]] = {
    "apiserver": ("ca", "kube-apiserver", [], SERVER, APISERVER_SANS),
    "apiserver-kubelet-client": (
        "ca",
        "kube-apiserver-kubelet-client",
        ["kubeadm:cluster-admins"],
        CLIENT,
        set(),
    ),
    "front-proxy-client": ("front-proxy-ca", "front-proxy-client", [], CLIENT, set()),
    "apiserver-etcd-client": ("etcd/ca", "kube-apiserver-etcd-client", [], CLIENT, set()),
    "etcd/healthcheck-client": ("etcd/ca", "kube-etcd-healthcheck-client", [], CLIENT, set()),
    "etcd/server-node1": ("etcd/ca", "node1", [], BOTH, etcd_sans("node1", "10.213.0.11")),
    "etcd/peer-node1": ("etcd/ca", "node1", [], BOTH, etcd_sans("node1", "10.213.0.11")),
    "etcd/server-node2": (
        "etcd/ca",
        "node2",
        [],
        BOTH,
        etcd_sans("node2", "10.213.0.12", "192.168.7.12"),
    ),
    "etcd/peer-node2": (
        "etcd/ca",
        "node2",
        [],
        BOTH,
        etcd_sans("node2", "10.213.0.12", "192.168.7.12"),
    ),
    "etcd/server-node3": ("etcd/ca", "node3", [], BOTH, etcd_sans("node3", "10.213.0.13")),
    "etcd/peer-node3": ("etcd/ca", "node3", [], BOTH, etcd_sans("node3", "10.213.0.13")),
}

# file stem: (CN, O, server)
KUBECONFIGS: dict[str, tuple[str, list[str], str]] = {
    "admin": ("kubernetes-admin", ["kubeadm:cluster-admins"], "https://lb.kubexms.local:6443"),
    "super-admin": ("kubernetes-super-admin", ["system:masters"], "https://lb.kubexms.local:6443"),
    "controller-manager": ("system:kube-controller-manager", [], "https://127.0.0.1:6443"),
    "scheduler": ("system:kube-scheduler", [], "https://127.0.0.1:6443"),
    **{
        f"kubelet-{node}": (
            f"system:node:{node}",
            ["system:nodes"],
            "https://lb.kubexms.local:6443",
        )
        for node in ("node1", "node2", "node3", "node4")
    },
}


def test_the_whole_pki_is_made_and_nothing_else(generated: PkiReport, pki_dir: Path) -> None:
    assert {entry.action for entry in generated.entries} == {Action.created}
    expected = {f"{name}.{ext}" for name in [*CAS, *LEAVES] for ext in ("crt", "key")}
    expected |= {"sa.key", "sa.pub"} | {f"kubeconfig/{name}.conf" for name in KUBECONFIGS}
    files = {p.relative_to(pki_dir).as_posix() for p in pki_dir.rglob("*") if p.is_file()}
    assert files == expected


@pytest.mark.parametrize(("name", "common_name"), CAS.items())
def test_each_ca_is_self_signed_and_only_signs(pki_dir: Path, name: str, common_name: str) -> None:
    path = pki_dir / f"{name}.crt"
    openssl_verify(path, path)
    view = openssl_view(path)
    assert view.is_ca
    assert (view.common_name, view.organizations) == (common_name, [])
    assert view.key_usage == CA_USAGE
    assert view.extended_key_usage == frozenset()
    days = openssl("x509", "-in", path, "-noout", "-checkend", str(3649 * 86400))
    assert days.returncode == 0, "a CA lives ten years by default"


@pytest.mark.parametrize("name", LEAVES)
def test_each_certificate_meets_its_requirements(pki_dir: Path, name: str) -> None:
    ca, common_name, organizations, usages, sans = LEAVES[name]
    path, ca_path = pki_dir / f"{name}.crt", pki_dir / f"{ca}.crt"
    purposes = {
        "TLS Web Server Authentication": "sslserver",
        "TLS Web Client Authentication": "sslclient",
    }
    for usage, purpose in purposes.items():
        if usage in usages:
            openssl_verify(ca_path, path, purpose)
        else:
            assert "unsuitable certificate purpose" in openssl_refusal(ca_path, path, purpose)
    for other in set(CAS) - {ca}:
        refusal = openssl_refusal(pki_dir / f"{other}.crt", path)
        assert "unable to get local issuer certificate" in refusal, f"{name} under {other}"
    view = openssl_view(path)
    assert not view.is_ca
    assert (view.common_name, view.organizations) == (common_name, organizations)
    assert view.key_usage == RSA_USAGE
    assert view.extended_key_usage == usages
    assert view.sans == sans
    assert openssl("x509", "-in", path, "-noout", "-checkend", str(364 * 86400)).returncode == 0
    assert openssl("x509", "-in", path, "-noout", "-checkend", str(366 * 86400)).returncode == 1


@pytest.mark.parametrize("name", [*LEAVES, *CAS])
def test_each_key_belongs_to_its_certificate(pki_dir: Path, name: str) -> None:
    from_cert = openssl("x509", "-in", pki_dir / f"{name}.crt", "-noout", "-pubkey")
    from_key = openssl("pkey", "-in", pki_dir / f"{name}.key", "-pubout")
    assert from_cert.returncode == from_key.returncode == 0
    assert from_cert.stdout == from_key.stdout
    assert (pki_dir / f"{name}.key").read_text().startswith("-----BEGIN RSA PRIVATE KEY-----")


@pytest.mark.parametrize("name", KUBECONFIGS)
def test_each_kubeconfig_parses_and_its_client_chains_to_the_ca(
    pki_dir: Path, tmp_path: Path, name: str
) -> None:
    common_name, organizations, server = KUBECONFIGS[name]
    document = yaml.safe_load((pki_dir / "kubeconfig" / f"{name}.conf").read_text())
    assert document["kind"] == "Config"
    assert document["current-context"] == f"{common_name}@kubernetes"
    (cluster,) = document["clusters"]
    (user,) = document["users"]
    assert cluster["name"] == "kubernetes"
    assert cluster["cluster"]["server"] == server
    assert user["name"] == common_name
    ca_pem = base64.b64decode(cluster["cluster"]["certificate-authority-data"])
    assert ca_pem == (pki_dir / "ca.crt").read_bytes()
    cert = tmp_path / "client.crt"
    cert.write_bytes(base64.b64decode(user["user"]["client-certificate-data"]))
    key = tmp_path / "client.key"
    key.write_bytes(base64.b64decode(user["user"]["client-key-data"]))
    openssl_verify(pki_dir / "ca.crt", cert, "sslclient")
    view = openssl_view(cert)
    assert (view.common_name, view.organizations) == (common_name, organizations)
    assert view.extended_key_usage == CLIENT
    assert view.key_usage == RSA_USAGE
    assert openssl("x509", "-in", cert, "-noout", "-pubkey").stdout == (
        openssl("pkey", "-in", key, "-pubout").stdout
    )
    contents = parse_kubeconfig((pki_dir / "kubeconfig" / f"{name}.conf").read_bytes())
    assert (contents.server, contents.ca_pem) == (server, ca_pem)


def test_service_account_key_pair_matches(pki_dir: Path) -> None:
    public = openssl("pkey", "-in", pki_dir / "sa.key", "-pubout")
    assert public.returncode == 0
    assert public.stdout == (pki_dir / "sa.pub").read_text()


def test_secrets_are_private_and_certificates_readable(pki_dir: Path) -> None:
    for path in pki_dir.rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        if path.is_dir():
            assert mode == 0o700, path
        elif path.suffix in (".key", ".conf"):
            assert mode == 0o600, path
        else:
            assert mode == 0o644, path
    assert not [p for p in pki_dir.rglob(".*")], "no temporary files are left behind"


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
@pytest.mark.parametrize("name", ["admin", "kubelet-node4"])
def test_kubectl_reads_the_kubeconfig(pki_dir: Path, name: str) -> None:
    done = subprocess.run(
        ["kubectl", "--kubeconfig", str(pki_dir / "kubeconfig" / f"{name}.conf"), "config", "view",
         "--minify", "--raw", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    view = json.loads(done.stdout)
    common_name = KUBECONFIGS[name][0]
    assert view["current-context"] == f"{common_name}@kubernetes"
    assert view["users"][0]["name"] == common_name
    assert view["clusters"][0]["cluster"]["server"] == KUBECONFIGS[name][2]
