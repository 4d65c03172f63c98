"""The configuration files of the components that read one (binary mode).

The kubelet's KubeletConfiguration is kubeadm mode's (one definition of the cluster's kubelet
settings), plus the serving certificate kubexms issues each node; kube-proxy's
KubeProxyConfiguration is kubeadm mode's plus what kubeadm would put in its ConfigMap (the
kubeconfig); the scheduler's KubeSchedulerConfiguration (``kubescheduler.config.k8s.io/v1``)
names its kubeconfig and leader election. Unit tests validate each against the strict schema
of its version (tests/fixtures/k8s_schemas).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kubexms.kubernetes._kubeadm_config import (
    Document,
    kube_proxy_configuration,
    kubelet_configuration,
)
from kubexms.kubernetes.binary._layout import (
    KUBE_PROXY_CONF,
    KUBELET_SERVING_CERT,
    KUBELET_SERVING_KEY,
    SCHEDULER_CONF,
)

if TYPE_CHECKING:
    from kubexms.config import Cluster

SCHEDULER_API = "kubescheduler.config.k8s.io/v1"


def binary_kubelet_configuration(cluster: Cluster) -> Document:
    """The kubelet's configuration file: kubeadm mode's, serving with the node's certificate
    from the cluster CA (the API server checks it: ``--kubelet-certificate-authority``)."""
    return {
        **kubelet_configuration(cluster),
        "tlsCertFile": KUBELET_SERVING_CERT,
        "tlsPrivateKeyFile": KUBELET_SERVING_KEY,
    }


def binary_kube_proxy_configuration(cluster: Cluster, host: str) -> Document:
    """kube-proxy's configuration file on ``host`` (its node name and kubeconfig)."""
    return {
        **kube_proxy_configuration(cluster),
        "clientConnection": {"kubeconfig": KUBE_PROXY_CONF},
        "hostnameOverride": host,
    }


def scheduler_configuration(cluster: Cluster) -> Document:
    """KubeSchedulerConfiguration: the scheduler's kubeconfig and leader election (one
    scheduler of the masters schedules at a time)."""
    del cluster  # the same on every cluster today; the parameter keeps the renderers alike
    return {
        "apiVersion": SCHEDULER_API,
        "kind": "KubeSchedulerConfiguration",
        "clientConnection": {"kubeconfig": SCHEDULER_CONF},
        "leaderElection": {"leaderElect": True},
    }
