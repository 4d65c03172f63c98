"""The PKI's public surface, pinned: changing it is a decision, not an accident."""

from __future__ import annotations

import kubexms.pki


def test_exported_names() -> None:
    assert sorted(kubexms.pki.__all__) == [
        "Action",
        "Authorities",
        "CLUSTER_ADMINS",
        "CertKind",
        "CertProfile",
        "CertificateExpiry",
        "CertificateSpec",
        "ETCD_CA",
        "FRONT_PROXY_CA",
        "GeneratePki",
        "HOST_CERT_DIRECTORIES",
        "HOST_KUBECONFIG_DIRECTORY",
        "KUBERNETES_CA",
        "KeyType",
        "KubeconfigContents",
        "KubeconfigSpec",
        "LOCAL_API_SERVER",
        "PkiEntry",
        "PkiError",
        "PkiModule",
        "PkiOptions",
        "PkiPlan",
        "PkiReport",
        "SYSTEM_MASTERS",
        "SYSTEM_NODES",
        "apiserver_sans",
        "authority_of",
        "control_plane_url",
        "default_pki_directory",
        "generate_pki",
        "host_expirations",
        "host_scan_script",
        "issue_certificate",
        "load_private_key",
        "local_authorities",
        "local_expirations",
        "new_private_key",
        "parse_host_scan",
        "parse_kubeconfig",
        "pki_options",
        "plan_pki",
        "private_key_pem",
        "render_kubeconfig",
    ]
    for name in kubexms.pki.__all__:
        assert getattr(kubexms.pki, name) is not None
