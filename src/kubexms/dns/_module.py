"""The DNS objects kubexms applies itself, as one manifest on the first master."""

from __future__ import annotations

from dataclasses import dataclass

from kubexms.cni import KubeObject, ServerSideApply
from kubexms.config import Cluster
from kubexms.dns._coredns import coredns_deployment
from kubexms.dns._nodelocal import node_local_dns_objects
from kubexms.engine import Step

DNS_MANIFEST = "/etc/kubexms/dns/dns.yaml"


def dns_objects(cluster: Cluster) -> list[KubeObject]:
    """CoreDNS's Deployment in binary mode, NodeLocal DNSCache when asked for; empty when
    kubexms applies no DNS object (kubeadm mode without the cache)."""
    objects: list[KubeObject] = []
    if cluster.spec.kubernetes.type == "kubexm":
        objects.append(coredns_deployment(cluster))
    if cluster.spec.network.node_local_dns:
        objects += node_local_dns_objects(cluster)
    return objects


@dataclass(frozen=True)
class DnsManifest(ServerSideApply):
    """:func:`dns_objects`, applied server-side like every manifest kubexms applies."""

    def objects(self, cluster: Cluster) -> list[KubeObject]:
        return dns_objects(cluster)


def dns_steps(cluster: Cluster) -> list[Step]:
    """The step applying the DNS objects (none when there are none)."""
    if not dns_objects(cluster):
        return []
    return [DnsManifest(DNS_MANIFEST, "cluster DNS", name="dns")]
