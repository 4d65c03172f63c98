"""The API endpoint's load balancer: phase ``loadbalancer`` of ``create cluster``.

``spec.controlPlaneEndpoint.loadBalancer.type`` picks it: ``internal`` (haproxy or nginx on
every node that is not a master), ``external`` (keepalived with haproxy or nginx on the
``loadbalancer`` hosts, holding ``address``), ``kube-vip`` (a static pod on the masters) or
``none``.
"""

from kubexms.loadbalancer._layout import KEEPALIVED_UNIT, PROXY_UNIT, Backend, backends
from kubexms.loadbalancer._module import (
    LoadBalancerModule,
    balancer_hosts,
    balancer_ports,
    loadbalancer_host_needs,
    packages_needed,
)
from kubexms.loadbalancer._render import (
    KUBE_VIP_IMAGE,
    render_keepalived_config,
    render_kube_vip_manifest,
    render_proxy_config,
)

__all__ = [
    "KEEPALIVED_UNIT",
    "KUBE_VIP_IMAGE",
    "PROXY_UNIT",
    "Backend",
    "LoadBalancerModule",
    "backends",
    "balancer_hosts",
    "balancer_ports",
    "loadbalancer_host_needs",
    "packages_needed",
    "render_keepalived_config",
    "render_kube_vip_manifest",
    "render_proxy_config",
]
