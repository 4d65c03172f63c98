"""The architecture probe reaches only the hosts whose architecture the file does not give,
through the Runtime and their facts."""

from __future__ import annotations

import platform

import pytest

from kubexms.artifacts import ArtifactError, host_architectures
from kubexms.config import Cluster
from kubexms.testing import cluster_of

MACHINE_ARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), "")


def _cluster(node2: dict[str, str]) -> Cluster:
    hosts = [
        {"name": "node1", "address": "127.0.0.1", "connector": "local"},
        {"name": "node2", "address": "10.213.0.2", **node2},
    ]
    return cluster_of(2, extra_spec={"hosts": hosts})


@pytest.mark.skipif(not MACHINE_ARCH, reason="this machine is neither amd64 nor arm64")
async def test_only_hosts_without_arch_are_reached() -> None:
    # node2's address reaches nothing: asking it would fail the call.
    cluster = _cluster({"arch": "arm64"})
    found = await host_architectures(cluster)
    assert found == {"node1": (MACHINE_ARCH,), "node2": ("arm64",)}


async def test_assumed_arches_need_no_host() -> None:
    cluster = _cluster({})
    found = await host_architectures(cluster, assume=["arm64", "amd64"], detect=False)
    assert found == {"node1": ("amd64", "arm64"), "node2": ("amd64", "arm64")}
    with pytest.raises(ArtifactError, match="the architecture of node1, node2 is unknown"):
        await host_architectures(cluster, detect=False)
