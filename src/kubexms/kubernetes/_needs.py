"""What the control plane and the kubelet need of hosts (kubeadm mode)."""

from __future__ import annotations

from kubexms.config import Cluster
from kubexms.engine import HostNeeds
from kubexms.kubernetes._kubelet_unit import UNIT_NAME as KUBELET_UNIT
from kubexms.kubernetes._layout import API_SERVER_PORT

KUBELET_PORT = 10250
CONTROLLER_MANAGER_PORT = 10257
SCHEDULER_PORT = 10259
CONTROL_PLANE_PORTS = (API_SERVER_PORT, KUBELET_PORT, CONTROLLER_MANAGER_PORT, SCHEDULER_PORT)

# What kubeadm's preflight requires of every node (bridged traffic seen by iptables,
# forwarding on, overlayfs for the images).
_KERNEL_MODULES = ("overlay", "br_netfilter")
_SYSCTL = {"net.ipv4.ip_forward": "1", "net.bridge.bridge-nf-call-iptables": "1"}


def control_plane_host_needs(config: Cluster) -> list[HostNeeds]:
    """The API server, controller-manager, scheduler and kubelet ports on the masters (with
    kubeadm's own minimum of 2 CPUs and 1700 MB), the kubelet's on the workers. The kubelet
    holds them on a rerun (the control plane runs as its static pods)."""
    return [
        HostNeeds(
            "control-plane",
            roles=("master",),
            ports=CONTROL_PLANE_PORTS,
            kernel_modules=_KERNEL_MODULES,
            sysctl=_SYSCTL,
            cpus=2,
            memory_mib=1700,
            service=KUBELET_UNIT,
        ),
        workers_host_needs(config)[0],
    ]


def workers_host_needs(config: Cluster) -> list[HostNeeds]:
    """The kubelet's port on the workers, and what kubeadm's preflight checks."""
    return [
        HostNeeds(
            "kubelet",
            roles=("worker",),
            ports=(KUBELET_PORT,),
            kernel_modules=_KERNEL_MODULES,
            sysctl=_SYSCTL,
            service=KUBELET_UNIT,
        )
    ]
