"""kubexms.testing: the one public surface for running kubexms without machines.

For unit tests and benchmarks of Runner operations, Steps, components and pipelines:
``MemoryConnector`` is a host in memory that answers each command from a handler (default:
exit 0, no output) and records what it was asked; ``memory_runtime`` builds a ClusterRuntime of
such hosts from a cluster file; ``cluster_of`` makes a valid cluster file of any size without
YAML. Integration tests use real hosts (``kubexms sandbox``) instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kubexms.config import Cluster, ResolvedHost
from kubexms.connector import Connector
from kubexms.connector._memory import Answer, Handler, MemoryConnector
from kubexms.runtime import ClusterRuntime, new_runtime

__all__ = ["Answer", "Handler", "MemoryConnector", "cluster_of", "memory_runtime"]


def cluster_of(
    hosts: int,
    *,
    name: str = "memory",
    masters: int = 1,
    extra_spec: Mapping[str, Any] | None = None,
    work_dir: Path | None = None,
) -> Cluster:
    """A valid cluster of ``hosts`` hosts named ``node1``... (the first ``masters`` are
    masters and etcd, the rest workers), on addresses nothing ever connects to."""
    names = [f"node{index}" for index in range(1, hosts + 1)]
    spec: dict[str, Any] = {
        "hosts": [
            {"name": host, "address": f"10.213.{index // 250}.{index % 250 + 1}"}
            for index, host in enumerate(names)
        ],
        "roleGroups": {
            "master": names[:masters],
            "etcd": names[:masters],
            "worker": names[masters:] or names[:1],
        },
        "global": {},
    }
    if masters > 1:
        spec["controlPlaneEndpoint"] = {"domain": "lb.memory.local", "address": "10.213.255.1"}
    if work_dir is not None:
        spec["global"]["workDir"] = str(work_dir)
    spec.update(extra_spec or {})
    return Cluster.model_validate(
        {
            "apiVersion": "kubexms.io/v1alpha1",
            "kind": "Cluster",
            "metadata": {"name": name},
            "spec": spec,
        }
    )


async def memory_runtime(
    config: Cluster,
    handler: Handler | None = None,
    *,
    delay: float = 0.0,
    connectors: dict[str, MemoryConnector] | None = None,
    unreachable: Mapping[str, BaseException] | None = None,
) -> ClusterRuntime:
    """A ClusterRuntime whose hosts are MemoryConnectors (also put in ``connectors`` by name).

    Hosts named in ``unreachable`` fail to connect with that error and are left out of the
    runtime (listed in its ``unreachable``), as for a run that continues on healthy hosts.
    """

    def build(spec: ResolvedHost) -> Connector:
        error = (unreachable or {}).get(spec.name)
        connector = MemoryConnector(spec.name, handler, delay=delay, connect_error=error)
        if connectors is not None:
            connectors[spec.name] = connector
        return connector

    return await new_runtime(config, connector_factory=build, allow_unreachable=bool(unreachable))
