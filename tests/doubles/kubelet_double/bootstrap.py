"""The kubelet's TLS bootstrap: with only ``--bootstrap-kubeconfig`` (a bootstrap token), a CSR
for ``system:node:<name>`` (signer ``kubernetes.io/kube-apiserver-client-kubelet``), waited for
until the controller-manager signs it, then ``/var/lib/kubelet/pki/kubelet-client-current.pem``
and ``--kubeconfig`` pointing at it, as the real kubelet writes them."""

from __future__ import annotations

import base64
import time

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ._core import from_kubeconfig, host, write

KUBELET_DIR = "/var/lib/kubelet"
SIGN_WAIT = 300.0


class KubeletError(Exception):
    """The kubelet cannot run: its message, as the real one logs it before exiting 1."""


def _csr(name: str, key: ec.EllipticCurvePrivateKey) -> dict[str, object]:
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:nodes"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"system:node:{name}"),
        ]
    )
    request = (
        x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    )
    pem = request.public_bytes(serialization.Encoding.PEM)
    return {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"generateName": "csr-"},
        "spec": {
            "request": base64.b64encode(pem).decode(),
            "signerName": "kubernetes.io/kube-apiserver-client-kubelet",
            "usages": ["digital signature", "client auth"],
        },
    }


def tls_bootstrap(bootstrap_kubeconfig: str, kubeconfig: str, name: str) -> None:
    """A client certificate for ``system:node:<name>`` through a CSR made with the bootstrap
    token; then ``kubeconfig`` written pointing at it (see the module docstring)."""
    bootstrap = host(bootstrap_kubeconfig)
    document = yaml.safe_load(bootstrap.read_text())
    client = from_kubeconfig(bootstrap)
    client.retry_seconds = 120.0
    key = ec.generate_private_key(ec.SECP256R1())
    collection = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
    made = client.request("POST", collection, _csr(name, key))
    csr = made["metadata"]["name"]
    print(f"kubelet: TLS bootstrap: waiting for {csr} to be signed", flush=True)
    deadline = time.monotonic() + SIGN_WAIT
    while True:
        certificate = (client.get(f"{collection}/{csr}").get("status") or {}).get("certificate")
        if certificate:
            break
        if time.monotonic() > deadline:
            raise KubeletError(f"the CSR {csr} was not signed within {SIGN_WAIT:g}s")
        time.sleep(1)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    current = f"{KUBELET_DIR}/pki/kubelet-client-current.pem"
    write(current, base64.b64decode(certificate) + key_pem, 0o600)
    cluster = document["clusters"][0]
    written = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "default-cluster", "cluster": cluster["cluster"]}],
        "contexts": [
            {
                "name": "default-context",
                "context": {
                    "cluster": "default-cluster",
                    "namespace": "default",
                    "user": "default-auth",
                },
            }
        ],
        "current-context": "default-context",
        "preferences": {},
        "users": [
            {"name": "default-auth", "user": {"client-certificate": current, "client-key": current}}
        ],
    }
    write(kubeconfig, yaml.safe_dump(written).encode(), 0o600)
