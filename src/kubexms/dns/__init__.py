"""Cluster DNS: CoreDNS's Deployment in binary mode (kubeadm deploys it in kubeadm mode) and
the optional NodeLocal DNSCache, applied by the ``addons`` phase before the user's add-ons."""

from kubexms.dns._coredns import (
    COREDNS_DEPLOYMENT,
    COREDNS_NAMESPACE,
    coredns_deployment,
    coredns_image,
)
from kubexms.dns._module import DNS_MANIFEST, DnsManifest, dns_objects, dns_steps
from kubexms.dns._nodelocal import (
    NODE_LOCAL_ADDRESS,
    NODE_LOCAL_NAME,
    node_local_corefile,
    node_local_dns_objects,
)

__all__ = [
    "COREDNS_DEPLOYMENT",
    "COREDNS_NAMESPACE",
    "DNS_MANIFEST",
    "NODE_LOCAL_ADDRESS",
    "NODE_LOCAL_NAME",
    "DnsManifest",
    "coredns_deployment",
    "coredns_image",
    "dns_objects",
    "dns_steps",
    "node_local_corefile",
    "node_local_dns_objects",
]
