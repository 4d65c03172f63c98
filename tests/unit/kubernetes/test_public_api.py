"""The public names of kubexms.kubernetes, pinned so a change to them is deliberate."""

from __future__ import annotations

import kubexms.kubernetes

EXPECTED = {
    "CRI_SOCKET",
    "KUBEADM_INIT_CONFIG",
    "KUBEADM_JOIN_CONFIG",
    "PKI_DIR",
    "SUPPORTED_MINORS",
    "BootstrapToken",
    "BootstrapTokenError",
    "BootstrapTokenValid",
    "ControlPlaneModule",
    "ForeignClusterError",
    "KubeadmError",
    "KubeadmInit",
    "KubeadmJoin",
    "KubeadmMembership",
    "WorkersModule",
    "control_plane_host_needs",
    "kubelet_service",
    "workers_host_needs",
    "bootstrap_token_path",
    "master_pki_files",
    "stored_bootstrap_token",
    "ca_cert_hash",
    "cert_sans",
    "cluster_configuration",
    "cluster_dns",
    "control_plane_endpoint",
    "image_repository",
    "init_configuration",
    "init_documents",
    "join_configuration",
    "join_documents",
    "kube_proxy_configuration",
    "kubeadm_drop_in",
    "kubelet_configuration",
    "kubelet_unit",
    "to_yaml",
    # the user's kubeconfig (apisrv)
    "KubeconfigError",
    "MergeAction",
    "MergeResult",
    "WriteUserKubeconfig",
    "default_user_kubeconfig",
    "merge_into_file",
    "merge_kubeconfig",
    "render_kubeconfig_document",
    "user_kubeconfig",
    "user_kubeconfig_path",
    "write_user_kubeconfig",
    # control-plane waits (apisrv)
    "ControlPlaneNotReadyError",
    "WaitForApiServer",
    "WaitForNodes",
}


def test_all_is_exactly_the_public_api() -> None:
    assert set(kubexms.kubernetes.__all__) == EXPECTED
