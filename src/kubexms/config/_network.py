"""The pod network."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StrictInt

from kubexms.config._base import ConfigModel
from kubexms.config._errors import Loc, Problem
from kubexms.config._types import Cidr, invalid

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MTU_RANGE = (576, 9216)
"""The smallest datagram every IPv4 host must take, and the largest common jumbo frame."""


def _check_mtu(value: int) -> int:
    low, high = MTU_RANGE
    if value != 0 and not low <= value <= high:
        raise invalid(f"must be 0 (detect it) or between {low} and {high}")
    return value


Mtu = Annotated[StrictInt, AfterValidator(_check_mtu)]


class Calico(ConfigModel):
    """Calico's IP pool encapsulation and the MTU of pod interfaces."""

    mode: Literal["vxlan", "ipip", "none"] = Field(
        default="vxlan",
        description="Encapsulation of pod traffic between nodes; none routes it with BGP.",
    )
    mtu: Mtu = Field(default=0, description="MTU of pod interfaces; 0 lets Calico detect it.")


class Flannel(ConfigModel):
    """flannel's backend."""

    backend: Literal["vxlan", "host-gw", "wireguard"] = Field(
        default="vxlan", description="How flannel carries pod traffic between nodes."
    )


class Cilium(ConfigModel):
    """Cilium's Helm values that kubexms sets."""

    kube_proxy_replacement: bool = Field(
        default=False, description="Cilium replaces kube-proxy (kube-proxy is still installed)."
    )


PLUGIN_SETTINGS = ("calico", "flannel", "cilium")


class Network(ConfigModel):
    """The CNI plugin and the pod and service address ranges (which must not overlap)."""

    plugin: Literal["calico", "flannel", "cilium"] = "calico"
    kube_pods_cidr: Cidr = Field(default="10.233.64.0/18", alias="kubePodsCIDR")
    kube_service_cidr: Cidr = Field(default="10.233.0.0/18", alias="kubeServiceCIDR")
    calico: Calico = Field(default_factory=Calico)
    flannel: Flannel = Field(default_factory=Flannel)
    cilium: Cilium = Field(default_factory=Cilium)
    node_local_dns: bool = Field(
        default=False,
        alias="nodeLocalDNS",
        description="NodeLocal DNSCache on every node: a DNS cache answering on 169.254.25.10 "
        "and on the cluster DNS address (kubeProxy.mode iptables).",
    )

    @property
    def pods_network(self) -> IPNetwork:
        """``kubePodsCIDR`` as an address range."""
        return ipaddress.ip_network(self.kube_pods_cidr)

    @property
    def service_network(self) -> IPNetwork:
        """``kubeServiceCIDR`` as an address range."""
        return ipaddress.ip_network(self.kube_service_cidr)


def plugin_settings_problems(network: Network, loc: Loc) -> list[Problem]:
    """Settings written for a plugin the cluster does not use: most likely the plugin is not
    the one meant, and silently ignoring them would hide that.

    Only settings that differ from the defaults count, so a complete dump of a cluster file
    (every section written out) loads again.
    """
    return [
        (
            (*loc, name),
            f"applies to the {name} plugin, but network.plugin is {network.plugin}",
        )
        for name in PLUGIN_SETTINGS
        if name != network.plugin
        and name in network.model_fields_set
        and getattr(network, name) != type(getattr(network, name))()
    ]
