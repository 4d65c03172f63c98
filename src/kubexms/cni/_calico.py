"""Calico from its upstream ``manifests/calico.yaml``, changed where the cluster file says.

The manifest is the one of the BOM's ``calico-manifests`` version (Calico's source archive in
the artifact store). kubexms changes, on the parsed objects:

- the IPv4 pool: ``CALICO_IPV4POOL_CIDR`` of the calico-node container is the pod CIDR;
- the encapsulation (``spec.network.calico.mode``): ``CALICO_IPV4POOL_VXLAN`` /
  ``CALICO_IPV4POOL_IPIP``, and ``calico_backend`` of the calico-config ConfigMap (``vxlan``
  needs no BGP, so the BIRD liveness and readiness checks go, as in upstream calico-vxlan.yaml);
- the MTU: ``veth_mtu`` of calico-config (every tunnel MTU reads it there);
- the images: the pinned ones of the image list, under the private registry when set.
"""

from __future__ import annotations

from kubexms.cni._objects import (
    KubeObject,
    container,
    dump_objects,
    field,
    find_object,
    load_objects,
    point_images,
    set_env,
)
from kubexms.cni._pinned import pinned_images
from kubexms.config import Cluster

CALICO_MANIFEST = "manifests/calico.yaml"
"""Where the manifest is inside Calico's source archive (``calico-<version>/`` stripped)."""
CALICO_NAMESPACE = "kube-system"
CALICO_DAEMONSET = "calico-node"
CALICO_CONFIG = "calico-config"

_POOL_MODES = {
    # mode: (calico_backend, CALICO_IPV4POOL_IPIP, CALICO_IPV4POOL_VXLAN)
    "ipip": ("bird", "Always", "Never"),
    "vxlan": ("vxlan", "Never", "Always"),
    "none": ("bird", "Never", "Never"),
}
_BIRD_CHECKS = {"-bird-live", "-bird-ready"}
_IMAGES = {
    "node": "calico-node",
    "cni": "calico-cni",
    "kube-controllers": "calico-kube-controllers",
}


def calico_objects(
    cluster: Cluster, manifest: str, source: str = CALICO_MANIFEST
) -> list[KubeObject]:
    """The objects of ``manifest`` (calico.yaml's text) as this cluster applies them."""
    objects = load_objects(manifest, source)
    settings = cluster.spec.network.calico
    backend, ipip, vxlan = _POOL_MODES[settings.mode]

    config = find_object(objects, "ConfigMap", CALICO_CONFIG, source)
    data = field(config, ["data"], source)
    field(config, ["data", "calico_backend"], source)
    field(config, ["data", "veth_mtu"], source)
    data["calico_backend"] = backend
    data["veth_mtu"] = str(settings.mtu)

    node = container(
        find_object(objects, "DaemonSet", CALICO_DAEMONSET, source), "calico-node", source
    )
    set_env(node, "CALICO_IPV4POOL_CIDR", cluster.spec.network.kube_pods_cidr)
    set_env(node, "CALICO_IPV4POOL_IPIP", ipip)
    set_env(node, "CALICO_IPV4POOL_VXLAN", vxlan)
    if backend != "bird":
        for probe in ("livenessProbe", "readinessProbe"):
            command: list[str] = field(node, [probe, "exec", "command"], source)
            command[:] = [arg for arg in command if arg not in _BIRD_CHECKS]

    point_images(
        objects, pinned_images(cluster, _IMAGES), cluster.spec.registry.private_registry, source
    )
    return objects


def calico_manifest(cluster: Cluster, manifest: str, source: str = CALICO_MANIFEST) -> str:
    """:func:`calico_objects` as the manifest kubexms applies."""
    return dump_objects(calico_objects(cluster, manifest, source))
