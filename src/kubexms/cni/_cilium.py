"""Cilium from its Helm chart: the values kubexms sets, as one values document.

kube-proxy replacement is off unless ``spec.network.cilium.kubeProxyReplacement`` (kube-proxy
is installed either way); IPAM is ``kubernetes``: each node's pods get addresses from the
``podCIDR`` the controller manager gave the node out of ``kubePodsCIDR``, and Cilium does not
masquerade traffic inside the pod CIDR. With a private registry, the images come from there
under the same repository paths, with the tags the image list pins (the chart's own).
"""

from __future__ import annotations

from typing import Any

import yaml

from kubexms.artifacts import ImageRef
from kubexms.cni._pinned import pinned_images
from kubexms.cni._tools import helm_upgrade_argv
from kubexms.config import Cluster

CILIUM_RELEASE = "cilium"
CILIUM_NAMESPACE = "kube-system"
CILIUM_DAEMONSET = "cilium"
_UPSTREAM_IMAGES = {
    # the chart's value path -> the repository it names (the chart's defaults), and the image
    # list's key of the image it deploys (the operator's repository gets "-generic" appended)
    "image": ("quay.io/cilium/cilium", "cilium"),
    "operator.image": ("quay.io/cilium/operator", "cilium-operator-generic"),
    "envoy.image": ("quay.io/cilium/cilium-envoy", "cilium-envoy"),
}


def cilium_values(cluster: Cluster) -> dict[str, Any]:
    """The Helm values kubexms gives the Cilium chart for ``cluster``."""
    network = cluster.spec.network
    replace_proxy = network.cilium.kube_proxy_replacement
    values: dict[str, Any] = {
        "kubeProxyReplacement": replace_proxy,
        "ipam": {"mode": "kubernetes"},
        "k8s": {"requireIPv4PodCIDR": True},
        "ipv4NativeRoutingCIDR": network.kube_pods_cidr,
        "routingMode": "tunnel",
        "tunnelProtocol": "vxlan",
    }
    if replace_proxy:
        # Without kube-proxy, Cilium cannot reach the API server through its Service address.
        endpoint = cluster.spec.control_plane_endpoint
        host = endpoint.domain or endpoint.address
        values["k8sServiceHost"] = host or cluster.hosts_with_role("master")[0].internal_address
        values["k8sServicePort"] = endpoint.port
    registry = cluster.spec.registry.private_registry
    if registry:
        pinned = pinned_images(cluster, {key: key for _, key in _UPSTREAM_IMAGES.values()})
        for path, (upstream, key) in _UPSTREAM_IMAGES.items():
            ref = ImageRef.parse(f"{upstream}:latest").under(registry)
            target = values
            for part in path.split("."):
                target = target.setdefault(part, {})
            # The chart pins upstream digests; a copied image has its own, so the tag the
            # image list pins (and the bundle carries) is used.
            target.update(
                {
                    "repository": f"{ref.registry}/{ref.repository}",
                    "tag": pinned[key].tag,
                    "useDigest": False,
                }
            )
        values["operator"]["image"]["suffix"] = ""
    return values


def cilium_values_yaml(cluster: Cluster) -> str:
    return yaml.safe_dump(cilium_values(cluster), sort_keys=True)


def cilium_helm_argv(chart: str, values_file: str, *, timeout_seconds: int = 600) -> list[str]:
    """The helm command installing (or upgrading) Cilium from the chart archive ``chart`` with
    the values document at ``values_file`` (both paths on the first master)."""
    return helm_upgrade_argv(
        CILIUM_RELEASE,
        chart,
        namespace=CILIUM_NAMESPACE,
        values_files=[values_file],
        timeout_seconds=timeout_seconds,
    )
