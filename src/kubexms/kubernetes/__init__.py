"""The Kubernetes control plane and nodes (phases ``control-plane`` and ``workers``).

``_layout`` says where Kubernetes lives on a host and the cluster facts every config agrees on
(the endpoint, the cluster DNS address, the image repository); ``_bootstrap`` makes the bootstrap
token a join uses and the CA's public-key pin; ``_kubeadm_config`` renders kubeadm's
``v1beta4`` documents with the kubelet and kube-proxy configurations.
"""

from kubexms.kubernetes._bootstrap import BootstrapToken, ca_cert_hash
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

__all__ = [
    "CRI_SOCKET",
    "KUBEADM_INIT_CONFIG",
    "KUBEADM_JOIN_CONFIG",
    "PKI_DIR",
    "SUPPORTED_MINORS",
    "BootstrapToken",
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
    "kubelet_configuration",
    "to_yaml",
]
