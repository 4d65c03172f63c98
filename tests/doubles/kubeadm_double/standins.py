"""Stand-ins for the controller-manager and scheduler images of kubeadm's static pods, run by
the kubelet double (``python3 -m kubeadm_double.standins <binary> <flags>``).

Both accept their component's flags (an unknown one exits 1), check the files the flags name
and prove ``--kubeconfig`` against the API server. The controller-manager stand-in then does
the one controller job kubeadm's joins need: the certificate controllers of the shared core
(``doubles_core.csr``): a kubelet client CSR is approved only when a SubjectAccessReview allows
its requester to create ``certificatesigningrequests/nodeclient`` (or ``selfnodeclient`` for a
renewal), as upstream's csrapproving controller, and what is approved is signed with
``--cluster-signing-cert-file``/``--cluster-signing-key-file`` (the Approved condition through
the CSR's ``/approval``, the certificate through its ``/status``). The scheduler stand-in
schedules nothing.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from ._core import ApiError, csr, from_kubeconfig

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
                for name in csr.approve_and_sign(client, *signing):
                    print(f"signed {name}", flush=True)
        except ApiError as error:
            print(f"{binary} stand-in: {error}", file=sys.stderr, flush=True)
        time.sleep(1 if signing is not None else 30)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
