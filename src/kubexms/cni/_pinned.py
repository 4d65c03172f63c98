"""The images a plugin's containers may use: the image list's pins for the cluster."""

from __future__ import annotations

from collections.abc import Mapping

from kubexms.artifacts import BomError, ImageRef, cluster_images
from kubexms.config import Cluster


def pinned_images(cluster: Cluster, keys: Mapping[str, str]) -> dict[str, ImageRef]:
    """``keys`` (a repository's last segment -> image list key) resolved for ``cluster``'s
    Kubernetes version."""
    by_key = {image.key: image.ref for image in cluster_images(cluster, phases={"cni"})}
    missing = sorted(key for key in keys.values() if key not in by_key)
    if missing:
        raise BomError(f"the image list has no {', '.join(missing)} image for this cluster")
    return {short: by_key[key] for short, key in keys.items()}
