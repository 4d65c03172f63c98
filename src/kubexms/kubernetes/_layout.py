"""Where Kubernetes lives on a host, and the cluster facts every rendered config agrees on."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from kubexms.containerd._layout import SOCKET as CONTAINERD_SOCKET
from kubexms.pki import control_plane_url

if TYPE_CHECKING:
    from kubexms.config import Cluster

CONFIG_DIR = "/etc/kubernetes"
PKI_DIR = f"{CONFIG_DIR}/pki"
CA_CERT = f"{PKI_DIR}/ca.crt"
KUBEADM_DIR = f"{CONFIG_DIR}/kubeadm"
KUBEADM_INIT_CONFIG = f"{KUBEADM_DIR}/init.yaml"
KUBEADM_JOIN_CONFIG = f"{KUBEADM_DIR}/join.yaml"
KUBEADM_TOKEN_CONFIG = f"{KUBEADM_DIR}/token.yaml"
MANIFESTS_DIR = f"{CONFIG_DIR}/manifests"
ADMIN_CONF = f"{CONFIG_DIR}/admin.conf"
KUBELET_CONF = f"{CONFIG_DIR}/kubelet.conf"
BIN_DIR = "/usr/local/bin"
KUBEADM_BINARY = f"{BIN_DIR}/kubeadm"
KUBECTL_BINARY = f"{BIN_DIR}/kubectl"
KUBELET_DIR = "/var/lib/kubelet"
CRI_SOCKET = f"unix://{CONTAINERD_SOCKET}"
UPSTREAM_REGISTRY = "registry.k8s.io"
API_SERVER_PORT = 6443
CONTROL_PLANE_TAINT = "node-role.kubernetes.io/control-plane"
SUPPORTED_MINORS = ("1.31", "1.32", "1.33", "1.34")


def minor(version: str) -> str:
    """``1.31`` of ``v1.31.4``."""
    major, minor_number = version.lstrip("v").split(".")[:2]
    return f"{major}.{minor_number}"


def cluster_dns(cluster: Cluster) -> str:
    """The cluster DNS service address: the 10th address of the service range (kubeadm's
    choice, which CoreDNS's Service is given)."""
    return str(cluster.spec.network.service_network[10])


def first_master(cluster: Cluster) -> str:
    """The host ``kubeadm init`` runs on: the first master in config order."""
    return cluster.hosts_with_role("master")[0].name


def control_plane_endpoint(cluster: Cluster) -> str:
    """``host:port`` clients use for the API server: the endpoint's domain, else its address,
    else (no endpoint set: one master) the first master's address. The same URL the cluster
    PKI's kubeconfigs carry (kubexms.pki.control_plane_url): kubeadm keeps an existing
    kubeconfig only when its server is the controlPlaneEndpoint."""
    return control_plane_url(cluster).removeprefix("https://")


def image_repository(cluster: Cluster) -> str:
    """Where nodes pull the control-plane images: the private registry when there is one (the
    images keep their upstream paths under it), else registry.k8s.io."""
    private = cluster.spec.registry.private_registry.strip("/")
    return private or UPSTREAM_REGISTRY


def is_ip(value: str) -> bool:
    """Whether ``value`` is an IP address (not a DNS name)."""
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
