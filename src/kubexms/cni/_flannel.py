"""flannel from its ``kube-flannel.yml`` (pinned by the user's sha256), changed where the
cluster file says: the pod CIDR (``Network``) and the backend (``Backend.Type``) in the
``net-conf.json`` of the kube-flannel-cfg ConfigMap, and the images (the pinned ones of the
image list, under the private registry when set)."""

from __future__ import annotations

import json

from kubexms.cni._errors import ManifestError
from kubexms.cni._objects import (
    KubeObject,
    dump_objects,
    field,
    find_object,
    load_objects,
    point_images,
)
from kubexms.cni._pinned import pinned_images
from kubexms.config import Cluster

FLANNEL_MANIFEST = "kube-flannel.yml"
FLANNEL_NAMESPACE = "kube-flannel"
FLANNEL_DAEMONSET = "kube-flannel-ds"
FLANNEL_CONFIG = "kube-flannel-cfg"
NET_CONF = "net-conf.json"
_IMAGES = {"flannel": "flannel", "flannel-cni-plugin": "flannel-cni-plugin"}


def flannel_objects(
    cluster: Cluster, manifest: str, source: str = FLANNEL_MANIFEST
) -> list[KubeObject]:
    """The objects of ``manifest`` (kube-flannel.yml's text) as this cluster applies them."""
    objects = load_objects(manifest, source)
    config = find_object(objects, "ConfigMap", FLANNEL_CONFIG, source)
    text = field(config, ["data", NET_CONF], source)
    try:
        net_conf = json.loads(text)
    except (TypeError, json.JSONDecodeError) as error:
        raise ManifestError(f"{source}: {FLANNEL_CONFIG} {NET_CONF} is not JSON: {error}") from None
    if not isinstance(net_conf, dict) or "Network" not in net_conf:
        raise ManifestError(f"{source}: {FLANNEL_CONFIG} {NET_CONF} has no Network")
    net_conf["Network"] = cluster.spec.network.kube_pods_cidr
    chosen = cluster.spec.network.flannel.backend
    backend = net_conf.get("Backend")
    if not (isinstance(backend, dict) and backend.get("Type") == chosen):
        net_conf["Backend"] = {"Type": chosen}  # another backend's settings do not carry over
    config["data"][NET_CONF] = json.dumps(net_conf, indent=2) + "\n"
    find_object(objects, "DaemonSet", FLANNEL_DAEMONSET, source)
    point_images(
        objects, pinned_images(cluster, _IMAGES), cluster.spec.registry.private_registry, source
    )
    return objects


def flannel_manifest(cluster: Cluster, manifest: str, source: str = FLANNEL_MANIFEST) -> str:
    """:func:`flannel_objects` as the manifest kubexms applies."""
    return dump_objects(flannel_objects(cluster, manifest, source))
