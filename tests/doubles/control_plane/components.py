"""What each double checks before it starts and what it then serves (see ``common``)."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from ._core import ApiError, Client, csr
from .common import (
    api_client,
    fail,
    host_port,
    load_config,
    parse_flags,
    public_key_of,
    read_file,
    require_files,
    serve_health,
    wait_healthy,
)

_CONTROLLER_MANAGER_FILES = (
    "client-ca-file",
    "requestheader-client-ca-file",
    "root-ca-file",
    "service-account-private-key-file",
    "cluster-signing-cert-file",
    "cluster-signing-key-file",
)


CSR_POLL = 3.0
"""Seconds between the certificate controllers' passes (the real ones watch; binary mode's
kubelets have their certificates, so only a renewal would wait, and the masters' API servers
are spared a list every second from each controller-manager)."""


def _controller_enabled(flags: dict[str, str], name: str) -> bool:
    """Whether ``--controllers`` (default ``*``) runs ``name`` (both certificate controllers
    are among the defaults ``*`` stands for)."""
    listed = [item.strip() for item in flags.get("controllers", "*").split(",")]
    return f"-{name}" not in listed and ("*" in listed or name in listed)


def _certificate_controllers(client: Client, cert: str, key: str) -> None:
    """csrapproving and csrsigning (``doubles_core.csr``: approval after a SubjectAccessReview,
    signing with the cluster-signing pair) every ``CSR_POLL`` seconds, in the background."""
    from cryptography import x509  # Debian's python3-cryptography, as the kubelet double's
    from cryptography.hazmat.primitives import serialization

    ca = x509.load_pem_x509_certificate(read_file(cert, "failed to read the signing cert"))
    ca_key: Any = serialization.load_pem_private_key(
        read_file(key, "failed to read the signing key"), password=None
    )

    def loop() -> None:
        while True:
            try:
                for name in csr.approve_and_sign(client, ca, ca_key):
                    print(f"I0000 certificate_controller: signed {name}", flush=True)
            except (ApiError, OSError, ValueError) as error:
                print(f"E0000 certificate controllers: {error}", file=sys.stderr, flush=True)
            time.sleep(CSR_POLL)

    threading.Thread(target=loop, name="certificate-controllers", daemon=True).start()


def _kubeconfig(flags: dict[str, str], config: dict[str, object]) -> str:
    connection = config.get("clientConnection")
    from_file = connection.get("kubeconfig") if isinstance(connection, dict) else None
    kubeconfig = flags.get("kubeconfig") or from_file  # the flag wins, as upstream
    if isinstance(kubeconfig, str) and kubeconfig:
        return kubeconfig
    fail("E0000 no kubeconfig: neither --kubeconfig nor clientConnection.kubeconfig")


def kube_scheduler(version: str, argv: Sequence[str]) -> None:
    """--config (KubeSchedulerConfiguration), its kubeconfig proven, HTTPS on 10259."""
    flags = parse_flags("kube-scheduler", version, argv)
    if not flags.get("config"):
        fail("E0000 kubexms test double: this double needs --config (kubexms always gives one)")
    config = load_config(flags["config"], "KubeSchedulerConfiguration", version)
    kubeconfig = _kubeconfig(flags, config)
    for name in ("authentication-kubeconfig", "authorization-kubeconfig"):
        if flags.get(name):
            api_client(flags[name])
    wait_healthy(api_client(kubeconfig))
    serve_health(
        flags.get("bind-address", "0.0.0.0"),
        int(flags.get("secure-port", "10259")),
        tls_name="kube-scheduler",
        cert_dir=flags.get("cert-dir"),
    )


def kube_controller_manager(version: str, argv: Sequence[str]) -> None:
    """The files its flags name readable, the signing pair matching, --kubeconfig proven,
    HTTPS on 10257."""
    flags = parse_flags("kube-controller-manager", version, argv)
    require_files(flags, _CONTROLLER_MANAGER_FILES)
    cert, key = flags.get("cluster-signing-cert-file"), flags.get("cluster-signing-key-file")
    if cert and key and public_key_of(cert, private=False) != public_key_of(key, private=True):
        fail(
            "E0000 failed to start the certificate controllers: "
            "--cluster-signing-key-file does not match --cluster-signing-cert-file"
        )
    if not flags.get("kubeconfig"):
        fail("E0000 kubexms test double: this double needs --kubeconfig (kubexms always gives one)")
    for name in ("authentication-kubeconfig", "authorization-kubeconfig"):
        if flags.get(name):
            api_client(flags[name])
    client = api_client(flags["kubeconfig"])
    wait_healthy(client)
    if cert and key and all(_controller_enabled(flags, c) for c in ("csrapproving", "csrsigning")):
        _certificate_controllers(client, cert, key)
    serve_health(
        flags.get("bind-address", "0.0.0.0"),
        int(flags.get("secure-port", "10257")),
        tls_name="kube-controller-manager",
        cert_dir=flags.get("cert-dir"),
    )


def kube_proxy(version: str, argv: Sequence[str]) -> None:
    """--config (KubeProxyConfiguration), its kubeconfig proven, plain HTTP health on
    ``healthzBindAddress``. It programs no rules (no iptables or IPVS here)."""
    flags = parse_flags("kube-proxy", version, argv)
    if not flags.get("config"):
        fail("E0000 kubexms test double: this double needs --config (kubexms always gives one)")
    config = load_config(flags["config"], "KubeProxyConfiguration", version)
    wait_healthy(api_client(_kubeconfig(flags, config)))
    address, port = host_port(str(config.get("healthzBindAddress", "")), 10256)
    serve_health(address, port, tls_name=None, cert_dir=None)
