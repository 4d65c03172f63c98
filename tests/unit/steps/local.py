"""A one-host runtime whose host is this machine's shell, confined to a scratch directory.

The steps' real scripts run (sha256sum, stat, tar, the atomic writes); tests point every path
under ``tmp_path``. ``ShellConnector`` records sudo without using it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kubexms.config import Cluster, ResolvedHost
from kubexms.connector import Connector
from kubexms.runtime import ClusterRuntime, Context, new_runtime
from kubexms.testing import cluster_of
from tests.unit.runner.fakes import ShellConnector


def local_cluster(work_dir: Path, *, arch: str = "amd64", **spec: Any) -> Cluster:
    """Three hosts (node1 is master and etcd) with a known architecture."""
    hosts = [
        {"name": f"node{index}", "address": f"10.213.0.{index}", "arch": arch}
        for index in range(1, 4)
    ]
    return cluster_of(3, work_dir=work_dir, extra_spec={"hosts": hosts, **spec})


async def local_context(config: Cluster, host: int = 0) -> tuple[ClusterRuntime, Context]:
    """A runtime over local shells and the Context of one of its hosts."""

    def build(spec: ResolvedHost) -> Connector:
        return ShellConnector(spec.name)

    runtime = await new_runtime(config, connector_factory=build)
    return runtime, runtime.new_context(runtime.hosts[host])
