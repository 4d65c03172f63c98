"""What each double checks before it starts and what it then serves (see ``common``)."""

from __future__ import annotations

from collections.abc import Sequence

from .common import (
    api_client,
    fail,
    host_port,
    load_config,
    parse_flags,
    public_key_of,
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
    wait_healthy(api_client(flags["kubeconfig"]))
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
