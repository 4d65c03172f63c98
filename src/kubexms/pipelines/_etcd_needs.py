"""What etcd needs of its hosts (its client and peer ports), declared for the etcd component.

Self-contained on purpose (config and engine only): the etcd component's module returns it
from ``host_needs`` once that component exists, and this file moves into it.
"""

from __future__ import annotations

from kubexms.config import Cluster
from kubexms.engine import HostNeeds

ETCD_CLIENT_PORT = 2379
ETCD_PEER_PORT = 2380
ETCD_METRICS_PORT = 2381
ETCD_SERVICE = "etcd.service"


def etcd_host_needs(config: Cluster) -> list[HostNeeds]:
    """etcd's ports (client, peer, metrics) on the hosts that will run it: the ``etcd`` role
    (``type: kubexm``, held by etcd.service on a rerun), the masters (``type: kubeadm``,
    stacked), none for an external etcd."""
    etcd_type = config.spec.etcd.type
    if etcd_type == "external":
        return []
    roles = ("etcd",) if etcd_type == "kubexm" else ("master",)
    reason = "" if etcd_type == "kubexm" else "stacked on the masters (etcd.type is kubeadm)"
    ports = (ETCD_CLIENT_PORT, ETCD_PEER_PORT, ETCD_METRICS_PORT)
    service = ETCD_SERVICE if etcd_type == "kubexm" else None
    return [HostNeeds("etcd", roles=roles, ports=ports, reason=reason, service=service)]
