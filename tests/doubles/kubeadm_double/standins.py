"""Stand-ins for the controller-manager and scheduler images of kubeadm's static pods, run by
the kubelet double (``python3 -m kubeadm_double.standins <binary> <flags>``).

Both accept their component's flags (an unknown one exits 1), check the files the flags name
and prove ``--kubeconfig`` against the API server. The controller-manager stand-in then does
the one controller job kubeadm's joins need: it approves and signs kubelet client CSRs
(``kubernetes.io/kube-apiserver-client-kubelet``, subject ``system:node:<name>`` in
``system:nodes``) with ``--cluster-signing-cert-file``/``--cluster-signing-key-file``, writing
the Approved condition through the CSR's ``/approval`` and the certificate through its
``/status``, as the real controllers do. The scheduler stand-in schedules nothing.
"""

from __future__ import annotations

import base64
import datetime as dt
import sys
import time
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ._core import ApiError, Client, from_kubeconfig

COMMON = {
    "authentication-kubeconfig",
    "authorization-kubeconfig",
    "bind-address",
    "kubeconfig",
    "leader-elect",
    "secure-port",
    "v",
    "profiling",
    "feature-gates",
    "master",
    "requestheader-client-ca-file",
    "client-ca-file",
    "tls-cert-file",
    "tls-private-key-file",
}
FLAGS = {
    "kube-controller-manager": COMMON
    | {
        "cluster-name",
        "cluster-signing-cert-file",
        "cluster-signing-key-file",
        "cluster-signing-duration",
        "controllers",
        "root-ca-file",
        "service-account-private-key-file",
        "service-cluster-ip-range",
        "use-service-account-credentials",
        "allocate-node-cidrs",
        "cluster-cidr",
        "node-cidr-mask-size",
        "node-cidr-mask-size-ipv4",
        "node-monitor-grace-period",
        "terminated-pod-gc-threshold",
    },
    "kube-scheduler": COMMON | {"config"},
}
FILES = (
    "kubeconfig",
    "cluster-signing-cert-file",
    "cluster-signing-key-file",
    "root-ca-file",
    "service-account-private-key-file",
    "client-ca-file",
    "config",
)
SIGNER = "kubernetes.io/kube-apiserver-client-kubelet"
APPROVED = "Auto approving kubelet client certificate after SubjectAccessReview."
CSRS = "/apis/certificates.k8s.io/v1/certificatesigningrequests"


def fail(message: str) -> None:
    print(f"E0000 {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def parse(binary: str, argv: list[str]) -> dict[str, str]:
    flags: dict[str, str] = {}
    for arg in argv:
        name, _, value = arg.removeprefix("--").partition("=")
        if not arg.startswith("--") or name not in FLAGS[binary]:
            fail(f"Error: unknown flag: {arg.split('=')[0]}")
        flags[name] = value
    for name in FILES:
        if name in flags and not Path(flags[name]).is_file():
            fail(f"--{name}: open {flags[name]}: no such file or directory")
    if "kubeconfig" not in flags:
        fail("--kubeconfig is required by this stand-in")
    return flags


def sign(csr: dict[str, Any], ca: x509.Certificate, ca_key: Any) -> bytes | None:
    """The certificate for a kubelet client CSR, or None when it is not one to approve."""
    spec = csr.get("spec") or {}
    if spec.get("signerName") != SIGNER:
        return None
    request = x509.load_pem_x509_csr(base64.b64decode(spec["request"]))
    names = request.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    groups = request.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    common_name = str(names[0].value) if names else ""
    if not common_name.startswith("system:node:") or [g.value for g in groups] != ["system:nodes"]:
        return None
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(request.subject)
        .issuer_name(ca.subject)
        .public_key(request.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def sign_pending(client: Client, ca: x509.Certificate, ca_key: Any) -> None:
    for csr in client.get(CSRS).get("items", []):
        status = csr.get("status") or {}
        if status.get("certificate"):
            continue
        certificate = sign(csr, ca, ca_key)
        if certificate is None:
            continue
        csr["status"] = {
            "conditions": [
                {
                    "type": "Approved",
                    "status": "True",
                    "reason": "AutoApproved",
                    "message": APPROVED,
                    "lastUpdateTime": f"{dt.datetime.now(dt.UTC):%Y-%m-%dT%H:%M:%SZ}",
                }
            ]
        }
        name = csr["metadata"]["name"]
        try:
            # As the real controllers: approval through /approval, the certificate through
            # /status (which keeps the approval conditions as they are).
            approved = client.request("PUT", f"{CSRS}/{name}/approval", csr)
            approved["status"]["certificate"] = base64.b64encode(certificate).decode()
            client.request("PUT", f"{CSRS}/{name}/status", approved)
            print(f"signed {name}", flush=True)
        except ApiError as error:
            if error.status != 409:  # another master's stand-in signed it first
                raise


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in FLAGS:
        fail("usage: standins kube-controller-manager|kube-scheduler FLAGS")
    binary = argv[0]
    flags = parse(binary, argv[1:])
    client = from_kubeconfig(Path(flags["kubeconfig"]))
    signing = None
    if binary == "kube-controller-manager" and "cluster-signing-cert-file" in flags:
        ca = x509.load_pem_x509_certificate(Path(flags["cluster-signing-cert-file"]).read_bytes())
        key = serialization.load_pem_private_key(
            Path(flags["cluster-signing-key-file"]).read_bytes(), password=None
        )
        signing = (ca, key)
    proven = False
    while True:
        try:
            client.request("GET", "/healthz", timeout=5)
            if not proven:
                print(f"{binary} stand-in: --kubeconfig works", flush=True)
                proven = True
            if signing is not None:
                sign_pending(client, *signing)
        except ApiError as error:
            print(f"{binary} stand-in: {error}", file=sys.stderr, flush=True)
        time.sleep(1 if signing is not None else 30)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
