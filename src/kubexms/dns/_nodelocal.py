"""NodeLocal DNSCache (``spec.network.nodeLocalDNS``): a DNS cache on every node, from the
upstream ``nodelocaldns.yaml`` of kubernetes/cluster/addons/dns/nodelocaldns, its
placeholders filled for this cluster.

The cache listens on the link-local ``169.254.25.10`` and on the cluster DNS address (with
kube-proxy in iptables mode, pods keep asking the kube-dns address and the node's cache
answers), and forwards cluster names to CoreDNS through the ``kube-dns-upstream`` Service.
"""

from __future__ import annotations

from typing import Any

from kubexms.cni import KubeObject
from kubexms.config import Cluster
from kubexms.dns._coredns import listed_image
from kubexms.kubernetes._layout import cluster_dns

NODE_LOCAL_ADDRESS = "169.254.25.10"
"""kubespray's default address of the cache on every node."""
NODE_LOCAL_NAME = "node-local-dns"
NODE_LOCAL_IMAGE_KEY = "k8s-dns-node-cache"
_NAMESPACE = "kube-system"
_LABELS = {"app.kubernetes.io/managed-by": "kubexms"}
_METRICS_PORT = 9253
_SCRAPED = {"prometheus.io/port": str(_METRICS_PORT), "prometheus.io/scrape": "true"}
_DNS_PROTOCOLS = (("dns", "UDP"), ("dns-tcp", "TCP"))
"""DNS on port 53, by UDP and TCP: what the cache and the kube-dns-upstream Service serve."""

# Upstream's Corefile; node-cache itself fills __PILLAR__CLUSTER__DNS__ (the kube-dns-upstream
# Service) and __PILLAR__UPSTREAM__SERVERS__ (the node's resolv.conf) when it starts.
_CLUSTER_DNS = "__PILLAR__CLUSTER__DNS__"
_UPSTREAM_SERVERS = "__PILLAR__UPSTREAM__SERVERS__"
_DOMAIN_CACHE = ("cache {", "    success 9984 30", "    denial 9984 5", "}")


def _server_block(
    zone: str,
    bind: str,
    *,
    cache: tuple[str, ...] = ("cache 30",),
    upstream: bool = False,
    health: str | None = None,
) -> str:
    """One server block of the cache's Corefile: cluster zones go to CoreDNS over TCP (the
    kube-dns-upstream Service), the rest to the node's resolvers."""
    if upstream:
        forward: tuple[str, ...] = (f"forward . {_UPSTREAM_SERVERS}",)
    else:
        forward = (f"forward . {_CLUSTER_DNS} {{", "    force_tcp", "}")
    lines = [
        "errors",
        *cache,
        "reload",
        "loop",
        f"bind {bind}",
        *forward,
        f"prometheus :{_METRICS_PORT}",
        *([f"health {health}"] if health else []),
    ]
    return f"{zone}:53 {{\n" + "".join(f"    {line}\n" for line in lines) + "}\n"


def node_local_corefile(cluster: Cluster) -> str:
    bind = f"{NODE_LOCAL_ADDRESS} {cluster_dns(cluster)}"
    return "".join(
        (
            _server_block(
                cluster.spec.kubernetes.dns_domain,
                bind,
                cache=_DOMAIN_CACHE,
                health=f"{NODE_LOCAL_ADDRESS}:8080",
            ),
            _server_block("in-addr.arpa", bind),
            _server_block("ip6.arpa", bind),
            _server_block(".", bind, upstream=True),
        )
    )


def _object(
    kind: str,
    name: str,
    *,
    api_version: str = "v1",
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    **fields: Any,
) -> KubeObject:
    """One object of the cache, in kube-system, labelled as kubexms's."""
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": _NAMESPACE,
        "labels": {**_LABELS, **(labels or {})},
    }
    if annotations:
        metadata["annotations"] = dict(annotations)
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, **fields}


def _container(cluster: Cluster) -> dict[str, Any]:
    image = listed_image(cluster, NODE_LOCAL_IMAGE_KEY)
    dns_ports = [{"containerPort": 53, "name": n, "protocol": p} for n, p in _DNS_PROTOCOLS]
    metrics = {"containerPort": _METRICS_PORT, "name": "metrics", "protocol": "TCP"}
    return {
        "name": "node-cache",
        "image": str(image),
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
        "ports": [*dns_ports, metrics],
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


def _daemonset(cluster: Cluster) -> KubeObject:
    labels = {"k8s-app": NODE_LOCAL_NAME}
    volumes = [
        {"name": "xtables-lock", "hostPath": {"path": "/run/xtables.lock", "type": "FileOrCreate"}},
        {"name": "kube-dns-config", "configMap": {"name": "kube-dns", "optional": True}},
        {
            "name": "config-volume",
            "configMap": {
                "name": NODE_LOCAL_NAME,
                "items": [{"key": "Corefile", "path": "Corefile.base"}],
            },
        },
    ]
    pod = {
        "priorityClassName": "system-node-critical",
        "serviceAccountName": NODE_LOCAL_NAME,
        "hostNetwork": True,
        "dnsPolicy": "Default",
        "tolerations": [
            {"key": "CriticalAddonsOnly", "operator": "Exists"},
            {"effect": "NoExecute", "operator": "Exists"},
            {"effect": "NoSchedule", "operator": "Exists"},
        ],
        "containers": [_container(cluster)],
        "volumes": volumes,
    }
    return _object(
        "DaemonSet",
        NODE_LOCAL_NAME,
        api_version="apps/v1",
        labels=labels,
        spec={
            "updateStrategy": {"rollingUpdate": {"maxUnavailable": "10%"}},
            "selector": {"matchLabels": dict(labels)},
            "template": {
                "metadata": {"labels": dict(labels), "annotations": dict(_SCRAPED)},
                "spec": pod,
            },
        },
    )


def node_local_dns_objects(cluster: Cluster) -> list[KubeObject]:
    """Upstream's objects for this cluster: ServiceAccount, the kube-dns-upstream Service,
    the Corefile, the DaemonSet and its metrics Service."""
    dns_labels = {"k8s-app": "kube-dns"}
    cache_labels = {"k8s-app": NODE_LOCAL_NAME}
    upstream_ports = [
        {"name": n, "port": 53, "protocol": p, "targetPort": 53} for n, p in _DNS_PROTOCOLS
    ]
    metrics_ports = [{"name": "metrics", "port": _METRICS_PORT, "targetPort": _METRICS_PORT}]
    return [
        _object("ServiceAccount", NODE_LOCAL_NAME),
        _object(
            "Service",
            "kube-dns-upstream",
            labels=dns_labels,
            spec={"ports": upstream_ports, "selector": dict(dns_labels)},
        ),
        _object("ConfigMap", NODE_LOCAL_NAME, data={"Corefile": node_local_corefile(cluster)}),
        _daemonset(cluster),
        _object(
            "Service",
            NODE_LOCAL_NAME,
            labels=cache_labels,
            annotations=_SCRAPED,
            spec={"clusterIP": "None", "ports": metrics_ports, "selector": dict(cache_labels)},
        ),
    ]
