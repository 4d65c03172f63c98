"""Which certificates and kubeconfigs a cluster needs, derived from its cluster file.

Layout, relative to the PKI directory (kubeadm's ``/etc/kubernetes/pki`` plus kubeconfigs)::

    ca.crt/.key  front-proxy-ca.crt/.key  etcd/ca.crt/.key        the three CAs
    sa.key  sa.pub                                                 service-account key pair
    apiserver  apiserver-kubelet-client  front-proxy-client  apiserver-etcd-client  (.crt/.key)
    etcd/healthcheck-client.crt/.key
    etcd/server-<host>.crt/.key  etcd/peer-<host>.crt/.key        one pair per etcd host
    kubeconfig/admin.conf  super-admin.conf  controller-manager.conf  scheduler.conf
    kubeconfig/kubelet-<node>.conf                                 one per master and worker
    kubelet-serving-<node>.crt/.key  kubeconfig/kube-proxy.conf    binary mode only (below)

Per-host etcd files carry the host in their name so one directory holds the whole cluster;
on the host they become kubeadm's ``etcd/server.crt`` and ``etcd/peer.crt``. With
``etcd.type: external`` the etcd CA and etcd certificates are the user's and are not made.

Binary mode (``kubernetes.type: kubexm``) also needs what kubeadm would otherwise arrange in the
cluster: each node's kubelet serving certificate (signed by the cluster CA, so the API server
can check it; kubeadm's kubelets sign their own) and kube-proxy's kubeconfig (kubeadm gives
kube-proxy a ServiceAccount token instead).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from kubexms.pki._profiles import (
    CLUSTER_ADMINS,
    NODE_USER_PREFIX,
    SYSTEM_MASTERS,
    SYSTEM_NODES,
    CertKind,
    CertProfile,
    split_sans,
)

if TYPE_CHECKING:
    from kubexms.config import Cluster, ResolvedHost

KUBERNETES_CA = "ca"
FRONT_PROXY_CA = "front-proxy-ca"
ETCD_CA = "etcd/ca"
SERVICE_ACCOUNT = "sa"
KUBECONFIG_DIR = "kubeconfig"
KUBE_PROXY_USER = "system:kube-proxy"
"""kube-proxy's user: the subject of the ``system:node-proxier`` binding."""
LOCAL_API_SERVER = "https://127.0.0.1:6443"
"""Where controller-manager and scheduler reach the API server: the one on their own master,
as kubeadm does, so they never talk to a differently versioned one during an upgrade."""


@dataclass(frozen=True)
class CertificateSpec:
    """One certificate and its key: ``<name>.crt`` and ``<name>.key`` in the PKI directory."""

    name: str
    profile: CertProfile
    issuer: str | None = None  # the name of the issuing CA; None for a CA

    @property
    def cert_path(self) -> PurePosixPath:
        return PurePosixPath(f"{self.name}.crt")

    @property
    def key_path(self) -> PurePosixPath:
        return PurePosixPath(f"{self.name}.key")


@dataclass(frozen=True)
class KubeconfigSpec:
    """One kubeconfig with an embedded client certificate signed by the Kubernetes CA."""

    name: str  # file stem: admin, kubelet-node1, ...
    profile: CertProfile
    server: str
    cluster_name: str
    issuer: str = KUBERNETES_CA

    @property
    def path(self) -> PurePosixPath:
        return PurePosixPath(KUBECONFIG_DIR, f"{self.name}.conf")

    @property
    def user(self) -> str:
        return self.profile.common_name

    @property
    def context(self) -> str:
        return f"{self.user}@{self.cluster_name}"


@dataclass(frozen=True)
class PkiPlan:
    """Everything a cluster's PKI holds, CAs first."""

    authorities: tuple[CertificateSpec, ...]
    certificates: tuple[CertificateSpec, ...]
    kubeconfigs: tuple[KubeconfigSpec, ...]

    def authority(self, name: str) -> CertificateSpec:
        for spec in self.authorities:
            if spec.name == name:
                return spec
        raise KeyError(name)


def _url_host(host: str) -> str:
    try:
        return f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
    except ValueError:
        return host


def control_plane_url(cluster: Cluster) -> str:
    """``https://<endpoint>:<port>``: the endpoint's domain, else its address, else the first
    master's address."""
    endpoint = cluster.spec.control_plane_endpoint
    host = endpoint.domain or endpoint.address or cluster.hosts_with_role("master")[0].address
    return f"https://{_url_host(host)}:{endpoint.port}"


def first_service_ip(cluster: Cluster) -> str:
    """The first address of the service range: the ``kubernetes`` Service's ClusterIP."""
    return str(cluster.spec.network.service_network.network_address + 1)


def apiserver_sans(cluster: Cluster) -> list[str]:
    """Every name and address the API server is reached by, each once, in a stable order."""
    kubernetes = cluster.spec.kubernetes
    endpoint = cluster.spec.control_plane_endpoint
    values = [
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        f"kubernetes.default.svc.{kubernetes.dns_domain}",
        "localhost",
    ]
    for master in cluster.hosts_with_role("master"):
        values += [master.name, master.address, master.internal_address]
    values += [endpoint.domain, endpoint.address, first_service_ip(cluster), "127.0.0.1"]
    values += kubernetes.api_server.cert_sans
    return [value for value in values if value]


def _etcd_profile(host: ResolvedHost) -> CertProfile:
    # kubeadm: CN is the node name; SANs the node name, its addresses and the loopbacks.
    dns, ips = split_sans(
        [host.name, "localhost", host.address, host.internal_address, "127.0.0.1", "::1"]
    )
    return CertProfile(host.name, CertKind.peer, dns_names=dns, ip_addresses=ips)


def _client(common_name: str, *organizations: str) -> CertProfile:
    return CertProfile(common_name, CertKind.client, organizations=organizations)


def _kubelet_serving_profile(host: ResolvedHost) -> CertProfile:
    # What the kubelet's own serving CSR asks for: system:node:<name> in system:nodes, with
    # the node's name and addresses.
    dns, ips = split_sans([host.name, host.address, host.internal_address])
    return CertProfile(
        f"{NODE_USER_PREFIX}{host.name}",
        CertKind.server,
        organizations=(SYSTEM_NODES,),
        dns_names=dns,
        ip_addresses=ips,
    )


def _is_node(host: ResolvedHost) -> bool:
    return host.has_role("master") or host.has_role("worker")


def plan_pki(cluster: Cluster, *, local_api_server: str = LOCAL_API_SERVER) -> PkiPlan:
    """The certificates and kubeconfigs ``cluster`` needs."""
    external_etcd = cluster.spec.etcd.type == "external"
    authorities = [
        CertificateSpec(KUBERNETES_CA, CertProfile("kubernetes-ca", CertKind.ca)),
        CertificateSpec(FRONT_PROXY_CA, CertProfile("kubernetes-front-proxy-ca", CertKind.ca)),
    ]
    if not external_etcd:
        authorities.append(CertificateSpec(ETCD_CA, CertProfile("etcd-ca", CertKind.ca)))

    dns, ips = split_sans(apiserver_sans(cluster))
    certificates = [
        CertificateSpec(
            "apiserver",
            CertProfile("kube-apiserver", CertKind.server, dns_names=dns, ip_addresses=ips),
            KUBERNETES_CA,
        ),
        CertificateSpec(
            "apiserver-kubelet-client",
            _client("kube-apiserver-kubelet-client", CLUSTER_ADMINS),
            KUBERNETES_CA,
        ),
        CertificateSpec("front-proxy-client", _client("front-proxy-client"), FRONT_PROXY_CA),
    ]
    if not external_etcd:
        certificates += [
            CertificateSpec(
                "apiserver-etcd-client", _client("kube-apiserver-etcd-client"), ETCD_CA
            ),
            CertificateSpec(
                "etcd/healthcheck-client", _client("kube-etcd-healthcheck-client"), ETCD_CA
            ),
        ]
        for host in cluster.hosts_with_role("etcd"):
            profile = _etcd_profile(host)
            certificates.append(CertificateSpec(f"etcd/server-{host.name}", profile, ETCD_CA))
            certificates.append(CertificateSpec(f"etcd/peer-{host.name}", profile, ETCD_CA))

    binary_mode = cluster.spec.kubernetes.type == "kubexm"
    if binary_mode:
        certificates += [
            CertificateSpec(
                f"kubelet-serving-{host.name}", _kubelet_serving_profile(host), KUBERNETES_CA
            )
            for host in cluster.resolved_hosts()
            if _is_node(host)
        ]

    server = control_plane_url(cluster)
    cluster_name = cluster.spec.kubernetes.cluster_name
    kubeconfigs = [
        KubeconfigSpec("admin", _client("kubernetes-admin", CLUSTER_ADMINS), server, cluster_name),
        KubeconfigSpec(
            "super-admin", _client("kubernetes-super-admin", SYSTEM_MASTERS), server, cluster_name
        ),
        KubeconfigSpec(
            "controller-manager",
            _client("system:kube-controller-manager"),
            local_api_server,
            cluster_name,
        ),
        KubeconfigSpec(
            "scheduler", _client("system:kube-scheduler"), local_api_server, cluster_name
        ),
    ]
    for host in cluster.resolved_hosts():
        if _is_node(host):
            profile = _client(f"{NODE_USER_PREFIX}{host.name}", SYSTEM_NODES)
            kubeconfigs.append(
                KubeconfigSpec(f"kubelet-{host.name}", profile, server, cluster_name)
            )
    if binary_mode:
        kubeconfigs.append(
            KubeconfigSpec("kube-proxy", _client(KUBE_PROXY_USER), server, cluster_name)
        )
    return PkiPlan(tuple(authorities), tuple(certificates), tuple(kubeconfigs))
