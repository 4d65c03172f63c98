"""A 3-master, 2-worker cluster file to render from, with knobs for the variants tests need."""

from __future__ import annotations

from typing import Any

from kubexms.config import Cluster, parse_config
from tests.unit.config.sample import to_yaml


def cluster_data(
    *,
    version: str = "v1.31.4",
    etcd: dict[str, Any] | None = None,
    endpoint: dict[str, Any] | None = None,
    kubernetes: dict[str, Any] | None = None,
    registry: dict[str, Any] | None = None,
    masters: int = 3,
) -> dict[str, Any]:
    """The cluster file as data; ``endpoint={}`` leaves the endpoint out."""
    names = ["master1", "master2", "master3", "worker1", "worker2"]
    spec: dict[str, Any] = {
        "hosts": [
            {"name": name, "address": f"10.213.0.{11 + index}"} for index, name in enumerate(names)
        ],
        "roleGroups": {
            "master": names[:masters],
            "etcd": names[:3],
            "worker": names[3:],
        },
        "global": {"privateKeyPath": "/root/.ssh/id_ed25519"},
        "controlPlaneEndpoint": {"domain": "api.demo.internal", "address": "10.213.0.100"}
        if endpoint is None
        else endpoint,
        "kubernetes": {"version": version, **(kubernetes or {})},
    }
    if etcd is not None:
        spec["etcd"] = etcd
    if registry is not None:
        spec["registry"] = registry
    return {
        "apiVersion": "kubexms.io/v1alpha1",
        "kind": "Cluster",
        "metadata": {"name": "demo"},
        "spec": spec,
    }


def make_cluster(**knobs: Any) -> Cluster:
    return parse_config(to_yaml(cluster_data(**knobs)))
