"""What containerd needs of the nodes."""

from __future__ import annotations

from kubexms.config import Cluster
from kubexms.containerd._layout import ROLES
from kubexms.engine import HostNeeds


def containerd_host_needs(config: Cluster) -> list[HostNeeds]:
    """overlayfs for image layers (the default snapshotter); bridged pod traffic seen by
    iptables and forwarded (the CNI plugins' bridge); on every master and worker."""
    needs = [
        HostNeeds(
            "containerd",
            roles=ROLES,
            kernel_modules=("overlay", "br_netfilter"),
            sysctl={
                "net.ipv4.ip_forward": "1",
                "net.bridge.bridge-nf-call-iptables": "1",
                "net.bridge.bridge-nf-call-ip6tables": "1",
            },
        )
    ]
    return needs
