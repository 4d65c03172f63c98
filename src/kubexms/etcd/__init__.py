"""etcd run by kubexms: binaries under systemd on the ``etcd`` hosts, TLS everywhere.

``_layout`` says where everything lives on a host (binaries, the one configuration file, the
certificates in kubeadm's layout, ports) and how members are named; the install phase and the
operating commands (status, backup, restore) both read it. ``EtcdModule`` is the ``etcd`` phase
of ``create cluster``.
"""

from kubexms.etcd._layout import (
    BIN_DIR,
    CA_CERT,
    CLIENT_PORT,
    CONFIG_DIR,
    CONFIG_FILE,
    ETCD_BINARY,
    ETCDCTL_BINARY,
    ETCDCTL_ENV,
    ETCDUTL_BINARY,
    HEALTHCHECK_CERT,
    HEALTHCHECK_KEY,
    METRICS_PORT,
    PEER_CERT,
    PEER_KEY,
    PEER_PORT,
    PKI_DIR,
    SERVER_CERT,
    SERVER_KEY,
    UNIT_NAME,
    EtcdMember,
    client_endpoints,
    cluster_token,
    etcdctl_command,
    initial_cluster,
    member_of,
    members,
    pki_files,
)
from kubexms.etcd._module import EtcdModule, etcd_warnings
from kubexms.etcd._needs import etcd_host_needs

__all__ = [
    "BIN_DIR",
    "CA_CERT",
    "CLIENT_PORT",
    "CONFIG_DIR",
    "CONFIG_FILE",
    "ETCDCTL_BINARY",
    "ETCDCTL_ENV",
    "ETCDUTL_BINARY",
    "ETCD_BINARY",
    "HEALTHCHECK_CERT",
    "HEALTHCHECK_KEY",
    "METRICS_PORT",
    "PEER_CERT",
    "PEER_KEY",
    "PEER_PORT",
    "PKI_DIR",
    "SERVER_CERT",
    "SERVER_KEY",
    "UNIT_NAME",
    "EtcdMember",
    "EtcdModule",
    "client_endpoints",
    "cluster_token",
    "etcd_host_needs",
    "etcd_warnings",
    "etcdctl_command",
    "initial_cluster",
    "member_of",
    "members",
    "pki_files",
]
