"""CoreDNS as kubexms deploys it in binary mode: kubeadm's Deployment, with the image of the
BOM's image list for the Kubernetes minor (the tag kubeadm itself would deploy), under the
private registry when there is one.

The ServiceAccount, RBAC, the ``coredns`` ConfigMap (Corefile with the cluster domain) and the
``kube-dns`` Service at the cluster DNS address are applied by binary mode's control-plane phase
(``kubexms.kubernetes.binary``), as kubeadm creates them at init; the Deployment comes here, in
the ``addons`` phase, once the pod network can give its pods addresses. In kubeadm mode kubeadm
deploys CoreDNS itself, from ``dns.imageRepository`` of the ClusterConfiguration.
"""

from __future__ import annotations

from typing import Any

from kubexms.artifacts import ImageRef, cluster_images
from kubexms.cni import KubeObject, ManifestError
from kubexms.config import Cluster

COREDNS_IMAGE_KEY = "coredns"
COREDNS_NAMESPACE = "kube-system"
COREDNS_DEPLOYMENT = "coredns"
DNS_LABELS = {"k8s-app": "kube-dns"}
"""kubeadm's labels: the kube-dns Service selects the pods by them."""
CONTROL_PLANE_TAINT = "node-role.kubernetes.io/control-plane"


def listed_image(cluster: Cluster, key: str) -> ImageRef:
    """The image ``key`` of the image list's ``addons`` phase as nodes pull it: the list's
    pin, under the private registry."""
    found = [image.ref for image in cluster_images(cluster, phases={"addons"}) if image.key == key]
    if len(found) != 1:
        raise ManifestError(f"the image list has no {key} image for this cluster")
    return found[0].under(cluster.spec.registry.private_registry)


def coredns_image(cluster: Cluster) -> ImageRef:
    """The CoreDNS image nodes pull: the image list's pin, under the private registry."""
    return listed_image(cluster, COREDNS_IMAGE_KEY)


def _container(image: str) -> dict[str, Any]:
    return {
        "name": "coredns",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "args": ["-conf", "/etc/coredns/Corefile"],
        "resources": {
            "limits": {"memory": "170Mi"},
            "requests": {"cpu": "100m", "memory": "70Mi"},
        },
        "volumeMounts": [{"name": "config-volume", "mountPath": "/etc/coredns", "readOnly": True}],
        "ports": [
            {"containerPort": 53, "name": "dns", "protocol": "UDP"},
            {"containerPort": 53, "name": "dns-tcp", "protocol": "TCP"},
            {"containerPort": 9153, "name": "metrics", "protocol": "TCP"},
        ],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]},
            "readOnlyRootFilesystem": True,
        },
        "livenessProbe": {
            "httpGet": {"path": "/health", "port": 8080, "scheme": "HTTP"},
            "initialDelaySeconds": 60,
            "timeoutSeconds": 5,
            "successThreshold": 1,
            "failureThreshold": 5,
        },
        "readinessProbe": {"httpGet": {"path": "/ready", "port": 8181, "scheme": "HTTP"}},
    }


def coredns_deployment(cluster: Cluster) -> KubeObject:
    """kubeadm's CoreDNS Deployment (two replicas spread over nodes, on control-plane nodes
    too, the Corefile from the ``coredns`` ConfigMap)."""
    anti_affinity = {
        "weight": 100,
        "podAffinityTerm": {
            "labelSelector": {
                "matchExpressions": [
                    {"key": "k8s-app", "operator": "In", "values": [DNS_LABELS["k8s-app"]]}
                ]
            },
            "topologyKey": "kubernetes.io/hostname",
        },
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": COREDNS_DEPLOYMENT,
            "namespace": COREDNS_NAMESPACE,
            "labels": {**DNS_LABELS, "app.kubernetes.io/managed-by": "kubexms"},
        },
        "spec": {
            "replicas": 2,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
            "selector": {"matchLabels": dict(DNS_LABELS)},
            "template": {
                "metadata": {"labels": dict(DNS_LABELS)},
                "spec": {
                    "priorityClassName": "system-cluster-critical",
                    "serviceAccountName": "coredns",
                    "affinity": {
                        "podAntiAffinity": {
                            "preferredDuringSchedulingIgnoredDuringExecution": [anti_affinity]
                        }
                    },
                    "tolerations": [
                        {"key": "CriticalAddonsOnly", "operator": "Exists"},
                        {"key": CONTROL_PLANE_TAINT, "effect": "NoSchedule"},
                    ],
                    "nodeSelector": {"kubernetes.io/os": "linux"},
                    "containers": [_container(str(coredns_image(cluster)))],
                    "dnsPolicy": "Default",
                    "volumes": [
                        {
                            "name": "config-volume",
                            "configMap": {
                                "name": "coredns",
                                "items": [{"key": "Corefile", "path": "Corefile"}],
                            },
                        }
                    ],
                },
            },
        },
    }
