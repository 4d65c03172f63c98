"""The Kubernetes control plane: how it is reached and how its components are configured."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, JsonValue, StrictInt

from kubexms.config._base import ConfigModel
from kubexms.config._types import (
    AddressOrEmpty,
    ArgValue,
    Domain,
    DomainOrEmpty,
    Name,
    Port,
    SubjectAltName,
    Version,
)

DEFAULT_KUBERNETES_VERSION = "v1.31.4"
DEFAULT_CONTAINERD_VERSION = "v1.7.24"


_INTERFACE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@-]{0,14}")


def _check_interface(value: str) -> str:
    if value and not _INTERFACE.fullmatch(value):
        raise ValueError(f"'{value}' is not a network interface name (at most 15 characters)")
    return value


def _check_router_id(value: int) -> int:
    if not 1 <= value <= 255:
        raise ValueError(f"{value} is not a VRRP router id (1-255)")
    return value


InterfaceOrEmpty = Annotated[str, AfterValidator(_check_interface)]
RouterId = Annotated[StrictInt, AfterValidator(_check_router_id)]


class LoadBalancer(ConfigModel):
    """What spreads API traffic over the masters.

    ``internal``: a local haproxy/nginx on every node that is not a master; ``external``:
    keepalived plus haproxy/nginx on the ``loadbalancer`` hosts holding ``address`` as a
    virtual IP; ``kube-vip``: a virtual IP (``address``) floated between the masters;
    ``none``: the endpoint is used as is (one master, or a load balancer run by someone else).
    """

    type: Literal["internal", "external", "kube-vip", "none"] = "none"
    kind: Literal["haproxy", "nginx"] = "haproxy"
    interface: InterfaceOrEmpty = Field(
        default="",
        description="external and kube-vip: the interface the virtual IP goes on; empty: the "
        "one holding the host's internal address.",
    )
    virtual_router_id: RouterId | None = Field(
        default=None,
        description="external: the VRRP router id (1-255), unique on the network; default "
        "derived from the cluster name.",
    )


class ControlPlaneEndpoint(ConfigModel):
    """The address clients use for the API server; required in some form with several masters."""

    domain: DomainOrEmpty = ""
    address: AddressOrEmpty = ""
    port: Port = 6443
    load_balancer: LoadBalancer = Field(default_factory=LoadBalancer)

    @property
    def is_set(self) -> bool:
        """Whether a domain or an address was given."""
        return bool(self.domain or self.address)


class ContainerRuntime(ConfigModel):
    """The CRI implementation on every node."""

    type: Literal["containerd"] = "containerd"
    version: Version = DEFAULT_CONTAINERD_VERSION


class Component(ConfigModel):
    """Extra command-line flags for one control-plane or node component."""

    extra_args: dict[str, ArgValue] = Field(default_factory=dict)


class ApiServer(Component):
    """kube-apiserver settings."""

    cert_sans: list[SubjectAltName] = Field(
        default_factory=list,
        alias="certSANs",
        description="Extra names and addresses in the API server certificate.",
    )


class Kubelet(Component):
    """kubelet settings: extra flags, and fields of its KubeletConfiguration."""

    config: dict[str, JsonValue] = Field(
        default_factory=dict,
        description="Fields of the kubelet's KubeletConfiguration (kubelet.config.k8s.io/"
        "v1beta1, camelCase as the kubelet reads them, e.g. maxPods: 200), merged into the one "
        "kubexms renders; checked against the fields of kubernetes.version. Fields kubexms "
        "derives (cgroupDriver, clusterDNS, clusterDomain, ...) are refused.",
    )


class KubeProxy(Component):
    """kube-proxy settings."""

    mode: Literal["iptables", "ipvs"] = "iptables"


class Certificates(ConfigModel):
    """Validity and key type of the cluster's PKI (made on the control machine)."""

    ca_validity_days: int = Field(default=3650, ge=1, le=36500)
    leaf_validity_days: int | None = Field(
        default=None, ge=1, le=36500, description="Default 365; at most 365 with type kubeadm."
    )
    key_type: Literal["rsa", "ecdsa"] = Field(
        default="rsa", description="rsa (2048 bits) or ecdsa (P-256)."
    )
    renew_before_days: int = Field(
        default=30, ge=0, description="Regenerate a certificate expiring within this many days."
    )


class Kubernetes(ConfigModel):
    """Which Kubernetes to install and how."""

    type: Literal["kubeadm", "kubexm"] = Field(
        default="kubeadm",
        description="kubeadm: static pods; kubexm: binaries run by systemd.",
    )
    version: Version = DEFAULT_KUBERNETES_VERSION
    cluster_name: Name = "kubernetes"
    dns_domain: Domain = "cluster.local"
    container_runtime: ContainerRuntime = Field(default_factory=ContainerRuntime)
    api_server: ApiServer = Field(default_factory=ApiServer)
    controller_manager: Component = Field(default_factory=Component)
    scheduler: Component = Field(default_factory=Component)
    kubelet: Kubelet = Field(default_factory=Kubelet)
    kube_proxy: KubeProxy = Field(default_factory=KubeProxy)
    certificates: Certificates = Field(default_factory=Certificates)
