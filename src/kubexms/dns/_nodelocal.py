"""NodeLocal DNSCache (``spec.network.nodeLocalDNS``): a DNS cache on every node, from the
upstream ``nodelocaldns.yaml`` of kubernetes/cluster/addons/dns/nodelocaldns, its
placeholders filled for this cluster.

The cache listens on the link-local ``169.254.25.10`` and on the cluster DNS address (with
kube-proxy in iptables mode, pods keep asking the kube-dns address and the node's cache
answers), and forwards cluster names to CoreDNS through the ``kube-dns-upstream`` Service.
"""

from __future__ import annotations

from typing import Any

from kubexms.artifacts import cluster_images
from kubexms.cni import KubeObject, ManifestError
from kubexms.config import Cluster
from kubexms.kubernetes._layout import cluster_dns

NODE_LOCAL_ADDRESS = "169.254.25.10"
"""kubespray's default address of the cache on every node."""
NODE_LOCAL_NAME = "node-local-dns"
NODE_LOCAL_IMAGE_KEY = "k8s-dns-node-cache"
_NAMESPACE = "kube-system"
_LABELS = {"app.kubernetes.io/managed-by": "kubexms"}

_COREFILE = """\
{domain}:53 {{
    errors
    cache {{
        success 9984 30
        denial 9984 5
    }}
    reload
    loop
    bind {local} {dns}
    forward . __PILLAR__CLUSTER__DNS__ {{
        force_tcp
    }}
    prometheus :9253
    health {local}:8080
}}
in-addr.arpa:53 {{
    errors
    cache 30
    reload
    loop
    bind {local} {dns}
    forward . __PILLAR__CLUSTER__DNS__ {{
        force_tcp
    }}
    prometheus :9253
}}
ip6.arpa:53 {{
    errors
    cache 30
    reload
    loop
    bind {local} {dns}
    forward . __PILLAR__CLUSTER__DNS__ {{
        force_tcp
    }}
    prometheus :9253
}}
.:53 {{
    errors
    cache 30
    reload
    loop
    bind {local} {dns}
    forward . __PILLAR__UPSTREAM__SERVERS__
    prometheus :9253
}}
"""
"""Upstream's Corefile; node-cache itself fills __PILLAR__CLUSTER__DNS__ (the kube-dns-upstream
Service) and __PILLAR__UPSTREAM__SERVERS__ (the node's resolv.conf) when it starts."""


def node_local_corefile(cluster: Cluster) -> str:
    return _COREFILE.format(
        domain=cluster.spec.kubernetes.dns_domain,
        local=NODE_LOCAL_ADDRESS,
        dns=cluster_dns(cluster),
    )


def _image(cluster: Cluster) -> str:
    found = [
        image.ref
        for image in cluster_images(cluster, phases={"addons"})
        if image.key == NODE_LOCAL_IMAGE_KEY
    ]
    if len(found) != 1:
        raise ManifestError(f"the image list has no {NODE_LOCAL_IMAGE_KEY} image for this cluster")
    return str(found[0].under(cluster.spec.registry.private_registry))


def _meta(name: str, **labels: str) -> dict[str, Any]:
    return {"name": name, "namespace": _NAMESPACE, "labels": {**_LABELS, **labels}}


def _daemonset(cluster: Cluster) -> KubeObject:
    labels = {"k8s-app": NODE_LOCAL_NAME}
    container = {
        "name": "node-cache",
        "image": _image(cluster),
        "resources": {"requests": {"cpu": "25m", "memory": "5Mi"}},
        "args": [
            "-localip",
            f"{NODE_LOCAL_ADDRESS},{cluster_dns(cluster)}",
            "-conf",
            "/etc/Corefile",
            "-upstreamsvc",
            "kube-dns-upstream",
        ],
        "securityContext": {"capabilities": {"add": ["NET_ADMIN"]}},
        "ports": [
            {"containerPort": 53, "name": "dns", "protocol": "UDP"},
            {"containerPort": 53, "name": "dns-tcp", "protocol": "TCP"},
            {"containerPort": 9253, "name": "metrics", "protocol": "TCP"},
        ],
        "livenessProbe": {
            "httpGet": {"host": NODE_LOCAL_ADDRESS, "path": "/health", "port": 8080},
            "initialDelaySeconds": 60,
            "timeoutSeconds": 5,
        },
        "volumeMounts": [
            {"mountPath": "/run/xtables.lock", "name": "xtables-lock", "readOnly": False},
            {"name": "config-volume", "mountPath": "/etc/coredns"},
            {"name": "kube-dns-config", "mountPath": "/etc/kube-dns"},
        ],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": _meta(NODE_LOCAL_NAME, **labels),
        "spec": {
            "updateStrategy": {"rollingUpdate": {"maxUnavailable": "10%"}},
            "selector": {"matchLabels": dict(labels)},
            "template": {
                "metadata": {
                    "labels": dict(labels),
                    "annotations": {"prometheus.io/port": "9253", "prometheus.io/scrape": "true"},
                },
                "spec": {
                    "priorityClassName": "system-node-critical",
                    "serviceAccountName": NODE_LOCAL_NAME,
                    "hostNetwork": True,
                    "dnsPolicy": "Default",
                    "tolerations": [
                        {"key": "CriticalAddonsOnly", "operator": "Exists"},
                        {"effect": "NoExecute", "operator": "Exists"},
                        {"effect": "NoSchedule", "operator": "Exists"},
                    ],
                    "containers": [container],
                    "volumes": [
                        {
                            "name": "xtables-lock",
                            "hostPath": {"path": "/run/xtables.lock", "type": "FileOrCreate"},
                        },
                        {
                            "name": "kube-dns-config",
                            "configMap": {"name": "kube-dns", "optional": True},
                        },
                        {
                            "name": "config-volume",
                            "configMap": {
                                "name": NODE_LOCAL_NAME,
                                "items": [{"key": "Corefile", "path": "Corefile.base"}],
                            },
                        },
                    ],
                },
            },
        },
    }


def node_local_dns_objects(cluster: Cluster) -> list[KubeObject]:
    """Upstream's objects for this cluster: ServiceAccount, the kube-dns-upstream Service,
    the Corefile, the DaemonSet and its metrics Service."""
    dns_labels = {"k8s-app": "kube-dns"}
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(NODE_LOCAL_NAME)},
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": _meta("kube-dns-upstream", **dns_labels),
            "spec": {
                "ports": [
                    {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                    {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                ],
                "selector": dict(dns_labels),
            },
        },
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _meta(NODE_LOCAL_NAME),
            "data": {"Corefile": node_local_corefile(cluster)},
        },
        _daemonset(cluster),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                **_meta(NODE_LOCAL_NAME, **{"k8s-app": NODE_LOCAL_NAME}),
                "annotations": {"prometheus.io/port": "9253", "prometheus.io/scrape": "true"},
            },
            "spec": {
                "clusterIP": "None",
                "ports": [{"name": "metrics", "port": 9253, "targetPort": 9253}],
                "selector": {"k8s-app": NODE_LOCAL_NAME},
            },
        },
    ]
