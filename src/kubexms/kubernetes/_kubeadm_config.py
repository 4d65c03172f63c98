"""The kubeadm configuration files (``kubeadm.k8s.io/v1beta4``), rendered from the cluster file.

Pure: no host is asked anything. ``kubeadm init`` on the first master reads InitConfiguration,
ClusterConfiguration, KubeletConfiguration and KubeProxyConfiguration from one file; a joining
node reads a JoinConfiguration (a control-plane join carries ``controlPlane``). The shapes follow
the upstream Go types of each API version; unit tests validate every document against strict
schemas derived from them (tests/fixtures/k8s_schemas).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import yaml

from kubexms.etcd import _layout as etcd_layout
from kubexms.kubernetes._bootstrap import BootstrapToken
from kubexms.kubernetes._layout import (
    API_SERVER_PORT,
    CA_CERT,
    CONTROL_PLANE_TAINT,
    CRI_SOCKET,
    PKI_DIR,
    UPSTREAM_REGISTRY,
    cluster_dns,
    control_plane_endpoint,
    image_repository,
)

if TYPE_CHECKING:
    from kubexms.config import Cluster
    from kubexms.config._resolved import ResolvedHost

KUBEADM_API = "kubeadm.k8s.io/v1beta4"
KUBELET_API = "kubelet.config.k8s.io/v1beta1"
KUBE_PROXY_API = "kubeproxy.config.k8s.io/v1alpha1"

Document = dict[str, Any]

_ENCRYPTION_ALGORITHM = {"rsa": "RSA-2048", "ecdsa": "ECDSA-P256"}
"""kubexms's key types as kubeadm's encryptionAlgorithm (what it would make keys with)."""


def _args(values: Mapping[str, str]) -> list[dict[str, str]]:
    """v1beta4 extraArgs: a name/value list (v1beta3's map is gone), sorted for stable files."""
    return [{"name": name, "value": values[name]} for name in sorted(values)]


def _host(cluster: Cluster, name: str) -> ResolvedHost:
    for host in cluster.resolved_hosts():
        if host.name == name:
            return host
    raise KeyError(f"no host {name!r} in the cluster file")


def _node_registration(cluster: Cluster, host: ResolvedHost) -> Document:
    is_master = "master" in host.roles
    taints: list[Document] = []
    if is_master and "worker" not in host.roles:
        taints.append({"key": CONTROL_PLANE_TAINT, "effect": "NoSchedule"})
    registration: Document = {
        "name": host.name,
        "criSocket": CRI_SOCKET,
        "taints": taints,
        "imagePullPolicy": "IfNotPresent",
        "kubeletExtraArgs": _args(
            {"node-ip": host.internal_address, **cluster.spec.kubernetes.kubelet.extra_args}
        ),
    }
    return registration


def _etcd(cluster: Cluster) -> Document:
    etcd = cluster.spec.etcd
    if etcd.type == "kubeadm":
        # The tuning the cluster file gives etcd reaches kubeadm's static pod as flags, the
        # same names the kubexm-run etcd gets them under (config._etcd.MANAGED_ARGS).
        tuning = {
            "heartbeat-interval": str(etcd.heartbeat_interval),
            "election-timeout": str(etcd.election_timeout),
            "quota-backend-bytes": str(etcd.quota_backend_bytes),
            "auto-compaction-retention": etcd.auto_compaction_retention,
            "snapshot-count": str(etcd.snapshot_count),
        }
        return {
            "local": {
                "dataDir": str(etcd.data_dir),
                "extraArgs": _args({**tuning, **etcd.extra_args}),
            }
        }
    return {
        "external": {
            "endpoints": etcd_layout.client_endpoints(cluster),
            "caFile": etcd_layout.CA_CERT,
            "certFile": etcd_layout.APISERVER_CLIENT_CERT,
            "keyFile": etcd_layout.APISERVER_CLIENT_KEY,
        }
    }


def _api_endpoint(host: ResolvedHost) -> Document:
    return {"advertiseAddress": host.internal_address, "bindPort": API_SERVER_PORT}


def cert_sans(cluster: Cluster) -> list[str]:
    """Names in the API server certificate beyond kubeadm's own: the endpoint's domain and
    address, every master's name and internal address, and the user's certSANs (in that order,
    each once)."""
    endpoint = cluster.spec.control_plane_endpoint
    names: list[str] = [value for value in (endpoint.domain, endpoint.address) if value]
    for master in cluster.hosts_with_role("master"):
        names.extend((master.name, master.internal_address))
    names.extend(str(name) for name in cluster.spec.kubernetes.api_server.cert_sans)
    return list(dict.fromkeys(names))


def cluster_configuration(cluster: Cluster) -> Document:
    """ClusterConfiguration: version, endpoint, networking, etcd, SANs, extra args, images."""
    kubernetes = cluster.spec.kubernetes
    network = cluster.spec.network
    repository = image_repository(cluster)
    # Under a private registry CoreDNS keeps its upstream path (<registry>/coredns/coredns),
    # while kubeadm would look for <imageRepository>/coredns: say where it is.
    dns: Document = (
        {} if repository == UPSTREAM_REGISTRY else {"imageRepository": f"{repository}/coredns"}
    )
    document: Document = {
        "apiVersion": KUBEADM_API,
        "kind": "ClusterConfiguration",
        "clusterName": kubernetes.cluster_name,
        "kubernetesVersion": kubernetes.version,
        "controlPlaneEndpoint": control_plane_endpoint(cluster),
        "certificatesDir": PKI_DIR,
        "imageRepository": repository,
        "encryptionAlgorithm": _ENCRYPTION_ALGORITHM[kubernetes.certificates.key_type],
        "networking": {
            "podSubnet": network.kube_pods_cidr,
            "serviceSubnet": network.kube_service_cidr,
            "dnsDomain": kubernetes.dns_domain,
        },
        "etcd": _etcd(cluster),
        "apiServer": {"certSANs": cert_sans(cluster)},
        "controllerManager": {},
        "scheduler": {},
        "dns": dns,
    }
    for key, component in (
        ("apiServer", kubernetes.api_server),
        ("controllerManager", kubernetes.controller_manager),
        ("scheduler", kubernetes.scheduler),
    ):
        if component.extra_args:
            document[key]["extraArgs"] = _args(component.extra_args)
    return document


def init_configuration(cluster: Cluster, host: str, token: BootstrapToken) -> Document:
    """InitConfiguration for ``kubeadm init`` on ``host`` (the first master): the bootstrap
    token the joins will use, this node's registration and advertised address."""
    resolved = _host(cluster, host)
    return {
        "apiVersion": KUBEADM_API,
        "kind": "InitConfiguration",
        "bootstrapTokens": [
            {
                "token": token.value,
                "description": "kubexms: joins of this cluster's nodes",
                "ttl": "2h0m0s",
                "usages": ["signing", "authentication"],
                "groups": ["system:bootstrappers:kubeadm:default-node-token"],
            }
        ],
        "nodeRegistration": _node_registration(cluster, resolved),
        "localAPIEndpoint": _api_endpoint(resolved),
        # The PKI is kubexms's, placed before kubeadm runs: nothing to upload for joins.
        "skipPhases": ["upload-certs"],
    }


def kubelet_configuration(cluster: Cluster) -> Document:
    """KubeletConfiguration: the systemd cgroup driver (containerd's), cluster DNS and domain."""
    return {
        "apiVersion": KUBELET_API,
        "kind": "KubeletConfiguration",
        "cgroupDriver": "systemd",
        "containerRuntimeEndpoint": CRI_SOCKET,
        "clusterDNS": [cluster_dns(cluster)],
        "clusterDomain": cluster.spec.kubernetes.dns_domain,
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": CA_CERT},
        },
        "authorization": {"mode": "Webhook"},
        "rotateCertificates": True,
        "serverTLSBootstrap": False,
        # The user's fields (checked against the version's fields when the file was loaded).
        **cluster.spec.kubernetes.kubelet.config,
    }


def kube_proxy_configuration(cluster: Cluster) -> Document:
    """KubeProxyConfiguration: the proxy mode and the pod range (for masquerading)."""
    return {
        "apiVersion": KUBE_PROXY_API,
        "kind": "KubeProxyConfiguration",
        "mode": cluster.spec.kubernetes.kube_proxy.mode,
        "clusterCIDR": cluster.spec.network.kube_pods_cidr,
    }


def join_configuration(
    cluster: Cluster, host: str, token: BootstrapToken, ca_hashes: Sequence[str]
) -> Document:
    """JoinConfiguration for ``host``: discovery through the endpoint with the bootstrap token,
    the CA pinned by ``ca_hashes``; a master joins as a control-plane node."""
    resolved = _host(cluster, host)
    if not ca_hashes:
        raise ValueError("a join needs the CA's public-key hash (discovery without it is unsafe)")
    document: Document = {
        "apiVersion": KUBEADM_API,
        "kind": "JoinConfiguration",
        "caCertPath": CA_CERT,
        "discovery": {
            "bootstrapToken": {
                "token": token.value,
                "apiServerEndpoint": control_plane_endpoint(cluster),
                "caCertHashes": list(ca_hashes),
            },
        },
        "nodeRegistration": _node_registration(cluster, resolved),
    }
    if "master" in resolved.roles:
        document["controlPlane"] = {"localAPIEndpoint": _api_endpoint(resolved)}
    return document


def init_documents(cluster: Cluster, token: BootstrapToken) -> list[Document]:
    """Every document of the first master's ``kubeadm init --config`` file, in kubeadm's order."""
    return [
        init_configuration(cluster, cluster.hosts_with_role("master")[0].name, token),
        cluster_configuration(cluster),
        kubelet_configuration(cluster),
        kube_proxy_configuration(cluster),
    ]


def node_taints(cluster: Cluster, host: str) -> list[Document]:
    """The taints ``host``'s node registers with (kubeadm's mark-control-plane sets them on a
    master): a master that is not also a worker is tainted control-plane:NoSchedule."""
    return list(_node_registration(cluster, _host(cluster, host))["taints"])


def join_documents(
    cluster: Cluster, host: str, token: BootstrapToken, ca_hashes: Sequence[str]
) -> list[Document]:
    """The documents of ``host``'s ``kubeadm join --config`` file."""
    return [join_configuration(cluster, host, token, ca_hashes)]


def to_yaml(documents: Sequence[Document]) -> str:
    """A multi-document YAML file, keys in the order they were rendered."""
    return "---\n".join(
        yaml.safe_dump(document, sort_keys=False, default_flow_style=False)
        for document in documents
    )
