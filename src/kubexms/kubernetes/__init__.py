"""The Kubernetes control plane and nodes (phases ``control-plane`` and ``workers``).

``_layout`` says where Kubernetes lives on a host and the cluster facts every config agrees on
(the endpoint, the cluster DNS address, the image repository); ``_bootstrap`` makes the bootstrap
token a join uses (kept 0600 in the work dir) and the CA's public-key pin; ``_pki_files`` says
which cluster PKI files each master gets before kubeadm runs; ``_kubelet_unit`` is the kubelet's
unit and kubeadm's drop-in; ``_kubeadm_config`` renders kubeadm's
``v1beta4`` documents with the kubelet and kube-proxy configurations. ``_module`` is the
``control-plane`` and ``workers`` phases (kubeadm mode), built from the blocks and the kubeadm
steps of ``_kubeadm_steps`` (init, the bootstrap token), ``_kubeadm_membership`` (whose
cluster a host already belongs to) and ``_kubeadm_join``; ``_needs`` what they need of hosts.
``_kubeconfig`` is the user's admin kubeconfig (``<workDir>/kubeconfig``, ``kubexms
kubeconfig``); ``_wait`` the waits for the API server (``/readyz`` through the endpoint) and
the nodes' registration.
"""

from kubexms.kubernetes._bootstrap import (
    BootstrapToken,
    BootstrapTokenError,
    bootstrap_token_path,
    ca_cert_hash,
    stored_bootstrap_token,
)
from kubexms.kubernetes._kubeadm_config import (
    cert_sans,
    cluster_configuration,
    init_configuration,
    init_documents,
    join_configuration,
    join_documents,
    kube_proxy_configuration,
    kubelet_configuration,
    to_yaml,
)
from kubexms.kubernetes._kubeadm_join import KubeadmJoin
from kubexms.kubernetes._kubeadm_membership import KubeadmMembership
from kubexms.kubernetes._kubeadm_steps import (
    BootstrapTokenValid,
    ForeignClusterError,
    KubeadmError,
    KubeadmInit,
)
from kubexms.kubernetes._kubeconfig import (
    KubeconfigError,
    MergeAction,
    MergeResult,
    WriteUserKubeconfig,
    default_user_kubeconfig,
    merge_into_file,
    merge_kubeconfig,
    render_kubeconfig_document,
    user_kubeconfig,
    user_kubeconfig_path,
    write_user_kubeconfig,
)
from kubexms.kubernetes._kubelet_unit import kubeadm_drop_in, kubelet_unit
from kubexms.kubernetes._layout import (
    CRI_SOCKET,
    KUBEADM_INIT_CONFIG,
    KUBEADM_JOIN_CONFIG,
    PKI_DIR,
    SUPPORTED_MINORS,
    cluster_dns,
    control_plane_endpoint,
    image_repository,
)
from kubexms.kubernetes._module import ControlPlaneModule, WorkersModule, kubelet_service
from kubexms.kubernetes._needs import control_plane_host_needs, workers_host_needs
from kubexms.kubernetes._pki_files import master_pki_files
from kubexms.kubernetes._wait import ControlPlaneNotReadyError, WaitForApiServer, WaitForNodes

__all__ = [
    "CRI_SOCKET",
    "KUBEADM_INIT_CONFIG",
    "KUBEADM_JOIN_CONFIG",
    "PKI_DIR",
    "SUPPORTED_MINORS",
    "BootstrapToken",
    "BootstrapTokenError",
    "BootstrapTokenValid",
    "ControlPlaneModule",
    "ControlPlaneNotReadyError",
    "ForeignClusterError",
    "KubeadmError",
    "KubeadmInit",
    "KubeadmJoin",
    "KubeadmMembership",
    "KubeconfigError",
    "MergeAction",
    "MergeResult",
    "WaitForApiServer",
    "WaitForNodes",
    "WorkersModule",
    "WriteUserKubeconfig",
    "bootstrap_token_path",
    "ca_cert_hash",
    "cert_sans",
    "cluster_configuration",
    "cluster_dns",
    "control_plane_endpoint",
    "control_plane_host_needs",
    "default_user_kubeconfig",
    "image_repository",
    "init_configuration",
    "init_documents",
    "join_configuration",
    "join_documents",
    "kube_proxy_configuration",
    "kubeadm_drop_in",
    "kubelet_configuration",
    "kubelet_service",
    "kubelet_unit",
    "master_pki_files",
    "merge_into_file",
    "merge_kubeconfig",
    "render_kubeconfig_document",
    "stored_bootstrap_token",
    "to_yaml",
    "user_kubeconfig",
    "user_kubeconfig_path",
    "workers_host_needs",
    "write_user_kubeconfig",
]
