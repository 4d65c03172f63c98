"""The pod network."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import Field

from kubexms.config._base import ConfigModel
from kubexms.config._types import Cidr

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class Network(ConfigModel):
    """The CNI plugin and the pod and service address ranges (which must not overlap)."""

    plugin: Literal["calico", "flannel", "cilium"] = "calico"
    kube_pods_cidr: Cidr = Field(default="10.233.64.0/18", alias="kubePodsCIDR")
    kube_service_cidr: Cidr = Field(default="10.233.0.0/18", alias="kubeServiceCIDR")

    @property
    def pods_network(self) -> IPNetwork:
        """``kubePodsCIDR`` as an address range."""
        return ipaddress.ip_network(self.kube_pods_cidr)

    @property
    def service_network(self) -> IPNetwork:
        """``kubeServiceCIDR`` as an address range."""
        return ipaddress.ip_network(self.kube_service_cidr)
