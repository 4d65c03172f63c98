"""What a Kubernetes node needs from its OS: kernel modules, kernel parameters, packages.

Preflight reads the same lists to check a host can take them before anything changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubexms.config import Cluster

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


@dataclass(frozen=True, slots=True)
class KernelModule:
    """A module a node needs, and why (for error messages)."""

    name: str
    reason: str


def kernel_modules(config: Cluster) -> list[KernelModule]:
    """The modules for this cluster: always overlay and br_netfilter; the IPVS ones only
    when ``kubernetes.kubeProxy.mode`` is ``ipvs``."""
    modules = [KernelModule(name, "needed by every Kubernetes node") for name in BASE_MODULES]
    if config.spec.kubernetes.kube_proxy.mode == "ipvs":
        modules += [
            KernelModule(name, "needed because kubernetes.kubeProxy.mode is ipvs")
            for name in IPVS_MODULES
        ]
    return modules


def required_packages(config: Cluster, manager: str) -> list[str]:
    """OS packages every node needs, named for ``manager`` (apt, dnf or yum)."""
    try:
        names = list(_PACKAGES[manager])
    except KeyError:
        raise ValueError(f"no package list for package manager {manager!r}") from None
    if config.spec.kubernetes.kube_proxy.mode == "ipvs":
        names.append("ipvsadm")
    return names


def package_names_by_manager(config: Cluster) -> dict[str, list[str]]:
    """required_packages for every supported package manager."""
    return {manager: required_packages(config, manager) for manager in _PACKAGES}
