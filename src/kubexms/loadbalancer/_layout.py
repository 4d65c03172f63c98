"""Where the load balancer lives on a host, and which hosts it serves and runs on.

One unit, ``kubexms-lb.service``, runs the proxy of either kind (haproxy or nginx), so
switching ``kind`` replaces the daemon under the same name; keepalived runs as
``kubexms-keepalived.service``. Both are kubexms's own units, beside (not instead of) the
distribution's ``haproxy``/``nginx``/``keepalived`` services, which are left alone.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from kubexms.config import Cluster

CONFIG_DIR = "/etc/kubexms/loadbalancer"
PROXY_UNIT = "kubexms-lb.service"
KEEPALIVED_UNIT = "kubexms-keepalived.service"
KEEPALIVED_CONFIG = f"{CONFIG_DIR}/keepalived.conf"
API_SERVER_PORT = 6443
"""Where every master's API server listens (the endpoint's port is the load balancer's)."""
HOSTS_MARKER = "kubexms-endpoint"
"""The managed block in /etc/hosts that points the endpoint's domain at the local proxy."""
FIRST_PRIORITY = 150
PRIORITY_STEP = 10
KUBE_VIP_MANIFEST = "/etc/kubernetes/manifests/kube-vip.yaml"

BINARIES = {"haproxy": "/usr/sbin/haproxy", "nginx": "/usr/sbin/nginx"}
PACKAGES: dict[str, dict[str, tuple[str, ...]]] = {
    # nginx's stream module (TCP proxying) is a package of its own on Debian and RHEL.
    "haproxy": {"apt": ("haproxy",), "dnf": ("haproxy",), "yum": ("haproxy",)},
    "nginx": {
        "apt": ("nginx", "libnginx-mod-stream"),
        "dnf": ("nginx", "nginx-mod-stream"),
        "yum": ("nginx", "nginx-mod-stream"),
    },
    "keepalived": {"apt": ("keepalived",), "dnf": ("keepalived",), "yum": ("keepalived",)},
}


def proxy_config_path(kind: str) -> str:
    return f"{CONFIG_DIR}/{kind}.cfg" if kind == "haproxy" else f"{CONFIG_DIR}/{kind}.conf"


@dataclass(frozen=True, slots=True)
class Backend:
    """One master's API server."""

    name: str
    address: str
    port: int = API_SERVER_PORT


def backends(cluster: Cluster) -> list[Backend]:
    """Every master's API server, in config order."""
    return [Backend(host.name, host.internal_address) for host in cluster.hosts_with_role("master")]


def local_proxy_hosts(cluster: Cluster) -> list[str]:
    """``internal``: the nodes that are not masters (a master reaches its own API server)."""
    masters = {host.name for host in cluster.hosts_with_role("master")}
    return [host.name for host in cluster.hosts_with_role("worker") if host.name not in masters]


@dataclass(frozen=True, slots=True)
class VrrpPeer:
    """One ``loadbalancer`` host in the VRRP group: its address and priority."""

    name: str
    address: str
    priority: int


def vrrp_peers(cluster: Cluster) -> list[VrrpPeer]:
    """The ``loadbalancer`` hosts in config order, the first with the highest priority."""
    hosts = cluster.hosts_with_role("loadbalancer")
    return [
        VrrpPeer(host.name, host.internal_address, max(1, FIRST_PRIORITY - PRIORITY_STEP * index))
        for index, host in enumerate(hosts)
    ]


def virtual_router_id(cluster: Cluster) -> int:
    """``loadBalancer.virtualRouterId``, or one derived from the cluster name (1-255), so two
    clusters on one network rarely collide and one cluster always gets the same."""
    chosen = cluster.spec.control_plane_endpoint.load_balancer.virtual_router_id
    if chosen is not None:
        return chosen
    digest = hashlib.sha256(cluster.name.encode()).digest()
    return 1 + int.from_bytes(digest[:2], "big") % 255
