"""What binary mode's services need of hosts: each port held by its own unit (so a rerun's
preflight knows them as the component's own), and what the kubelet relies on in the kernel."""

from __future__ import annotations

from kubexms.engine import HostNeeds
from kubexms.kubernetes.binary._layout import (
    API_SERVER_PORT,
    CONTROLLER_MANAGER_PORT,
    KUBE_PROXY_HEALTH_PORT,
    KUBELET_PORT,
    SCHEDULER_PORT,
    unit,
)

# As kubeadm mode: bridged traffic seen by iptables, forwarding on, overlayfs for the images.
_KERNEL_MODULES = ("overlay", "br_netfilter")
_SYSCTL = {"net.ipv4.ip_forward": "1", "net.bridge.bridge-nf-call-iptables": "1"}


def node_host_needs(roles: tuple[str, ...]) -> list[HostNeeds]:
    """The kubelet's and kube-proxy's ports on the hosts with ``roles``."""
    return [
        HostNeeds(
            "kubelet",
            roles=roles,
            ports=(KUBELET_PORT,),
            kernel_modules=_KERNEL_MODULES,
            sysctl=_SYSCTL,
            service=unit("kubelet"),
        ),
        HostNeeds(
            "kube-proxy", roles=roles, ports=(KUBE_PROXY_HEALTH_PORT,), service=unit("kube-proxy")
        ),
    ]


def control_plane_host_needs() -> list[HostNeeds]:
    """The control plane's ports on the masters (kubeadm's minimum of 2 CPUs and 1700 MB)."""
    return [
        HostNeeds(
            "kube-apiserver",
            roles=("master",),
            ports=(API_SERVER_PORT,),
            cpus=2,
            memory_mib=1700,
            service=unit("kube-apiserver"),
        ),
        HostNeeds(
            "kube-controller-manager",
            roles=("master",),
            ports=(CONTROLLER_MANAGER_PORT,),
            service=unit("kube-controller-manager"),
        ),
        HostNeeds(
            "kube-scheduler",
            roles=("master",),
            ports=(SCHEDULER_PORT,),
            service=unit("kube-scheduler"),
        ),
        *node_host_needs(("master",)),
    ]
