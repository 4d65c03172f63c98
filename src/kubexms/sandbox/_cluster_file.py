"""The cluster file a fleet writes: every host, sensible roles, the client key, strict host keys."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import yaml

__all__ = ["cluster_document", "role_groups"]


def role_groups(names: Sequence[str]) -> dict[str, list[str]]:
    """Roles for a fleet of this size; a single master, so no control-plane endpoint is needed.

    1 host: everything on it. 2 hosts: the first is master and etcd, the other a worker.
    3 or more: the first three run etcd, the first is master, the rest are workers.
    """
    if len(names) == 1:
        return {"master": [names[0]], "etcd": [names[0]], "worker": [names[0]]}
    if len(names) == 2:
        return {"master": [names[0]], "etcd": [names[0]], "worker": list(names[1:])}
    return {"master": [names[0]], "etcd": list(names[:3]), "worker": list(names[3:])}


def cluster_document(
    *,
    hosts: Sequence[tuple[str, str]],
    private_key_path: Path,
    known_hosts_path: Path,
    name: str = "sandbox",
) -> dict[str, object]:
    """The cluster file's content for hosts given as (name, address) pairs."""
    return {
        "apiVersion": "kubexms.io/v1alpha1",
        "kind": "Cluster",
        "metadata": {"name": name},
        "spec": {
            "hosts": [
                {
                    "name": host_name,
                    "address": address,
                    "internalAddress": address,
                    "port": 22,
                    "user": "root",
                    "privateKeyPath": str(private_key_path),
                }
                for host_name, address in hosts
            ],
            "roleGroups": role_groups([host_name for host_name, _ in hosts]),
            "global": {
                "user": "root",
                "port": 22,
                "hostKeyPolicy": "strict",
                "knownHostsPath": str(known_hosts_path),
            },
        },
    }


def render_cluster_file(document: dict[str, object]) -> str:
    """YAML text with a header saying where it came from."""
    header = (
        "# Written by `kubexms sandbox up`: the simulated fleet on this machine.\n"
        "# `kubexms sandbox down` removes the fleet and this file.\n"
    )
    return header + yaml.safe_dump(document, sort_keys=False, default_flow_style=False)
