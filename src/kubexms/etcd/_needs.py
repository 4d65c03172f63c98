"""What etcd needs of its hosts: its client, peer and metrics ports, held by etcd.service."""

from __future__ import annotations

from kubexms.config import Cluster
from kubexms.engine import HostNeeds
from kubexms.etcd._layout import PORTS, UNIT_NAME


def etcd_host_needs(config: Cluster) -> list[HostNeeds]:
    """etcd's ports on the hosts that will run it: the ``etcd`` role (``type: kubexm``, held
    by etcd.service on a rerun), the masters (``type: kubeadm``, stacked), none for an
    external etcd."""
    etcd_type = config.spec.etcd.type
    if etcd_type == "external":
        return []
    if etcd_type == "kubexm":
        return [HostNeeds("etcd", roles=("etcd",), ports=PORTS, service=UNIT_NAME)]
    return [
        HostNeeds(
            "etcd",
            roles=("master",),
            ports=PORTS,
            reason="stacked on the masters (etcd.type is kubeadm)",
            service="kubelet.service",  # a static pod of the kubelet on a rerun
        )
    ]
