"""What a Kubernetes node needs from its OS: kernel modules, kernel parameters, packages.

OS preparation declares these itself (``os_needs``) as it declares any component's needs; the
pipeline gathers them with the other modules' declarations, so preflight checks them and OS
preparation applies them without either knowing who asked.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubexms.config import Cluster
from kubexms.engine import HostNeeds, HostRequirements

BASE_MODULES = ("overlay", "br_netfilter")
"""Container image layers (overlayfs) and bridged pod traffic seen by iptables."""

IPVS_MODULES = ("ip_vs", "ip_vs_rr", "ip_vs_wrr", "ip_vs_sh", "nf_conntrack")
"""kube-proxy in IPVS mode; iptables mode needs none of them."""

KUBERNETES_SYSCTL: dict[str, str] = {
    "net.bridge.bridge-nf-call-iptables": "1",
    "net.bridge.bridge-nf-call-ip6tables": "1",
    "net.ipv4.ip_forward": "1",
    # What the kubelet's --protect-kernel-defaults expects, and room for many watchers.
    "vm.overcommit_memory": "1",
    "kernel.panic": "10",
    "kernel.panic_on_oops": "1",
    "fs.inotify.max_user_watches": "524288",
    "fs.inotify.max_user_instances": "8192",
}

_PACKAGES = {
    "apt": ("conntrack", "socat", "ipset", "ebtables", "ethtool", "iptables"),
    "dnf": ("conntrack-tools", "socat", "ipset", "ebtables", "ethtool", "iptables"),
}
_PACKAGES["yum"] = _PACKAGES["dnf"]
_IPVS_PACKAGES = {"apt": ("ipvsadm",), "dnf": ("ipvsadm",), "yum": ("ipvsadm",)}
NODE_MINIMUM_CPUS = 1
NODE_MINIMUM_MEMORY_MIB = 1024
IPVS_REASON = "kubernetes.kubeProxy.mode is ipvs"


def os_needs(config: Cluster) -> list[HostNeeds]:
    """What every node needs of its OS (packages, kernel modules, sysctls, a CPU and 1 GiB),
    and what kube-proxy adds in IPVS mode."""
    needs = [
        HostNeeds(
            "kubernetes",
            packages=dict(_PACKAGES),
            kernel_modules=BASE_MODULES,
            sysctl=dict(KUBERNETES_SYSCTL),
            cpus=NODE_MINIMUM_CPUS,
            memory_mib=NODE_MINIMUM_MEMORY_MIB,
            reason="every node",
        )
    ]
    if config.spec.kubernetes.kube_proxy.mode == "ipvs":
        needs.append(
            HostNeeds(
                "kube-proxy",
                packages=dict(_IPVS_PACKAGES),
                kernel_modules=IPVS_MODULES,
                reason=IPVS_REASON,
            )
        )
    return needs


@dataclass(frozen=True, slots=True)
class KernelModule:
    """A module a node needs, and why (for error messages)."""

    name: str
    reason: str


def kernel_modules(config: Cluster) -> list[KernelModule]:
    """The modules OS preparation declares for this cluster (always overlay and
    br_netfilter; the IPVS ones when ``kubernetes.kubeProxy.mode`` is ``ipvs``)."""
    found = HostRequirements(tuple(os_needs(config))).kernel_modules()
    return [KernelModule(name, f"needed by {', '.join(why)}") for name, why in found.items()]


def required_packages(config: Cluster, manager: str) -> list[str]:
    """OS packages OS preparation declares for every node, named for ``manager``."""
    return HostRequirements(tuple(os_needs(config))).packages(manager)


def package_names_by_manager(config: Cluster) -> dict[str, list[str]]:
    """required_packages for every supported package manager."""
    return HostRequirements(tuple(os_needs(config))).packages_by_manager()
