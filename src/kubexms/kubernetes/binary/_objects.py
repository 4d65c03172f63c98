"""What ``kubeadm init`` would create in a new cluster, for binary mode to apply itself.

Applied with kubectl on the first master (server-side, kubexms as field manager, so a rerun
changes nothing), in this order:

- RBAC (kubeadm's names, so a cluster looks the same in both modes): ``kubeadm:cluster-admins``
  gives the admin kubeconfig's group ``cluster-admin``; the bootstrap-token group may post and
  get auto-approved node CSRs and read nodes; nodes may renew their client certificates;
  ``kubeadm:node-proxier`` gives kube-proxy (its certificate user and its ServiceAccount)
  ``system:node-proxier``.
- ``kube-public/cluster-info``: the endpoint and CA as a kubeconfig, readable anonymously (what
  ``kubeadm join`` discovery and other tools read), with kubeadm's Role and RoleBinding for it.
- What CoreDNS needs in ``kube-system``: its ServiceAccount, ClusterRole and binding, the
  ``coredns`` ConfigMap (Corefile) and the ``kube-dns`` Service at the cluster DNS address.
  The Deployment itself is the DNS add-on's (phase ``addons``), as in kubeadm mode.

Every object is validated against the target version's OpenAPI schemas in the unit tests
(``kubernetes-validate``, strict).
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

import yaml

from kubexms.kubernetes._layout import cluster_dns
from kubexms.pki import CLUSTER_ADMINS, control_plane_url

if TYPE_CHECKING:
    from kubexms.config import Cluster

Object = dict[str, Any]

BOOTSTRAP_GROUP = "system:bootstrappers:kubeadm:default-node-token"
NODES_GROUP = "system:nodes"
KUBE_PROXY_USER = "system:kube-proxy"
_RBAC = "rbac.authorization.k8s.io/v1"
_LABELS = {"app.kubernetes.io/managed-by": "kubexms"}


def _meta(name: str, namespace: str | None = None, **labels: str) -> Object:
    meta: Object = {"name": name, "labels": {**_LABELS, **labels}}
    if namespace is not None:
        meta["namespace"] = namespace
    return meta


def _group(name: str) -> Object:
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": name}


def _user(name: str) -> Object:
    return {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": name}


def _service_account(name: str, namespace: str) -> Object:
    return {"kind": "ServiceAccount", "name": name, "namespace": namespace}


def _cluster_role_binding(name: str, role: str, *subjects: Object) -> Object:
    return {
        "apiVersion": _RBAC,
        "kind": "ClusterRoleBinding",
        "metadata": _meta(name),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": list(subjects),
    }


def rbac_objects() -> list[Object]:
    """kubeadm's ClusterRoles and ClusterRoleBindings of a new cluster."""
    return [
        _cluster_role_binding("kubeadm:cluster-admins", "cluster-admin", _group(CLUSTER_ADMINS)),
        _cluster_role_binding(
            "kubeadm:kubelet-bootstrap", "system:node-bootstrapper", _group(BOOTSTRAP_GROUP)
        ),
        _cluster_role_binding(
            "kubeadm:node-autoapprove-bootstrap",
            "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
            _group(BOOTSTRAP_GROUP),
        ),
        _cluster_role_binding(
            "kubeadm:node-autoapprove-certificate-rotation",
            "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
            _group(NODES_GROUP),
        ),
        {
            "apiVersion": _RBAC,
            "kind": "ClusterRole",
            "metadata": _meta("kubeadm:get-nodes"),
            "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}],
        },
        _cluster_role_binding("kubeadm:get-nodes", "kubeadm:get-nodes", _group(BOOTSTRAP_GROUP)),
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": _meta("kube-proxy", "kube-system"),
        },
        _cluster_role_binding(
            "kubeadm:node-proxier",
            "system:node-proxier",
            _user(KUBE_PROXY_USER),
            _service_account("kube-proxy", "kube-system"),
        ),
    ]


def cluster_info_kubeconfig(cluster: Cluster, ca_pem: bytes) -> str:
    """The kubeconfig in ``cluster-info``: the endpoint and the CA, no user."""
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "",
                "cluster": {
                    "certificate-authority-data": base64.b64encode(ca_pem).decode("ascii"),
                    "server": control_plane_url(cluster),
                },
            }
        ],
        "contexts": [],
        "current-context": "",
        "preferences": {},
        "users": [],
    }
    return yaml.safe_dump(document, sort_keys=False)


def cluster_info_objects(cluster: Cluster, ca_pem: bytes) -> list[Object]:
    """``kube-public/cluster-info`` and kubeadm's anonymous read access to it."""
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _meta("cluster-info", "kube-public"),
            "data": {"kubeconfig": cluster_info_kubeconfig(cluster, ca_pem)},
        },
        {
            "apiVersion": _RBAC,
            "kind": "Role",
            "metadata": _meta("kubeadm:bootstrap-signer-clusterinfo", "kube-public"),
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["configmaps"],
                    "resourceNames": ["cluster-info"],
                    "verbs": ["get"],
                }
            ],
        },
        {
            "apiVersion": _RBAC,
            "kind": "RoleBinding",
            "metadata": _meta("kubeadm:bootstrap-signer-clusterinfo", "kube-public"),
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "kubeadm:bootstrap-signer-clusterinfo",
            },
            "subjects": [_user("system:anonymous")],
        },
    ]


def corefile(cluster: Cluster) -> str:
    """CoreDNS's configuration, as kubeadm writes it for the cluster's domain."""
    domain = cluster.spec.kubernetes.dns_domain
    return f""".:53 {{
    errors
    health {{
       lameduck 5s
    }}
    ready
    kubernetes {domain} in-addr.arpa ip6.arpa {{
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }}
    prometheus :9153
    forward . /etc/resolv.conf {{
       max_concurrent 1000
    }}
    cache 30 {{
       disable success {domain}
       disable denial {domain}
    }}
    loop
    reload
    loadbalance
}}
"""


def coredns_objects(cluster: Cluster) -> list[Object]:
    """What CoreDNS needs in ``kube-system`` before its Deployment (kubeadm's objects)."""
    dns_labels = {"k8s-app": "kube-dns"}
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": _meta("coredns", "kube-system"),
        },
        {
            "apiVersion": _RBAC,
            "kind": "ClusterRole",
            "metadata": _meta("system:coredns"),
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["endpoints", "services", "pods", "namespaces"],
                    "verbs": ["list", "watch"],
                },
                {
                    "apiGroups": ["discovery.k8s.io"],
                    "resources": ["endpointslices"],
                    "verbs": ["list", "watch"],
                },
            ],
        },
        _cluster_role_binding(
            "system:coredns", "system:coredns", _service_account("coredns", "kube-system")
        ),
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _meta("coredns", "kube-system"),
            "data": {"Corefile": corefile(cluster)},
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                **_meta("kube-dns", "kube-system", **dns_labels),
                "annotations": {"prometheus.io/port": "9153", "prometheus.io/scrape": "true"},
            },
            "spec": {
                "selector": dns_labels,
                "clusterIP": cluster_dns(cluster),
                "ports": [
                    {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                    {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                    {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153},
                ],
            },
        },
    ]


def bootstrap_objects(cluster: Cluster, ca_pem: bytes) -> list[Object]:
    """Every object binary mode applies after the control plane is up, in order."""
    return [*rbac_objects(), *cluster_info_objects(cluster, ca_pem), *coredns_objects(cluster)]


def to_manifest(objects: list[Object]) -> str:
    """One multi-document YAML manifest."""
    return "---\n".join(yaml.safe_dump(item, sort_keys=False) for item in objects)
