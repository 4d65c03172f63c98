"""Artifact distribution as Engine steps: one task per component on the hosts whose roles
need it; distribute() runs them through the Engine and reports what was uploaded."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from kubexms.artifacts import (
    Artifact,
    ArtifactPlan,
    ArtifactStore,
    DistributionError,
    ManifestEntry,
)
from kubexms.config import ResolvedHost
from kubexms.connector import Connector
from kubexms.engine import Pipeline
from kubexms.runtime import new_runtime
from kubexms.steps import PlaceArtifact, distribute
from kubexms.steps._distribution import PlacementModule
from tests.unit.runner.fakes import ShellConnector
from tests.unit.steps.local import local_cluster

TOOL = b"#!/bin/sh\necho tool\n"


def _artifact(component: str, roles: set[str], arch: str = "amd64") -> Artifact:
    return Artifact(
        component=component,
        version="v1",
        arch=arch,
        file=f"{component}-{arch}",
        url=f"https://example.invalid/{component}",
        checksum_url=None,
        sha256=hashlib.sha256(TOOL).hexdigest(),
        checksum_source="test",
        roles=frozenset(roles),
        executable=True,
    )


def _plan(*artifacts: Artifact) -> ArtifactPlan:
    roles = {"node1": frozenset({"master", "etcd"}), "node2": frozenset({"worker"})}
    roles["node3"] = frozenset({"worker"})
    return ArtifactPlan("memory", "1.31.0", artifacts, roles, {name: ("amd64",) for name in roles})


def test_one_task_per_component_on_the_hosts_of_its_roles(tmp_path: Path) -> None:
    plan = _plan(
        _artifact("etcd", {"etcd"}),
        _artifact("kubelet", {"master", "worker"}),
        _artifact("kubelet", {"master", "worker"}, arch="arm64"),
    )
    module = PlacementModule(plan, store=tmp_path, remote_dir="/opt/cache")
    graph = Pipeline("p", [module]).plan(local_cluster(tmp_path))
    assert graph.nodes["p/artifacts/etcd/place"].hosts == ("node1",)
    assert graph.nodes["p/artifacts/kubelet/place"].hosts == ("node1", "node2", "node3")
    step = graph.nodes["p/artifacts/kubelet/place"].step
    assert isinstance(step, PlaceArtifact)
    assert (step.component, step.version, step.store, step.uploads) == (
        "kubelet",
        "v1",
        str(tmp_path),
        True,
    )
    assert graph.dependencies["p/artifacts/kubelet/place"] == set()  # parallel


def _store(root: Path, components: list[str]) -> ArtifactStore:
    store = ArtifactStore(root)
    entries = []
    for component in components:
        entry = ManifestEntry(
            component=component,
            version="v1",
            arch="amd64",
            file=f"{component}-amd64",
            sha256=hashlib.sha256(TOOL).hexdigest(),
            size=len(TOOL),
            url="https://example.invalid/x",
            checksum_source="test",
            executable=True,
        )
        store.path_of(entry).parent.mkdir(parents=True, exist_ok=True)
        store.path_of(entry).write_bytes(TOOL)
        entries.append(entry)
    store.record(entries)
    return store


async def test_distribute_uploads_once_and_reports_it(tmp_path: Path) -> None:
    store = _store(tmp_path / "store", ["etcd", "kubelet"])
    cache = tmp_path / "host-cache"
    plan = _plan(_artifact("etcd", {"etcd"}), _artifact("kubelet", {"master", "worker"}))

    def build(spec: ResolvedHost) -> Connector:
        return ShellConnector(spec.name)

    config = local_cluster(tmp_path / "work")
    async with await new_runtime(config, connector_factory=build) as runtime:
        first = await distribute(runtime, plan, store, remote_dir=str(cache), hosts=["node1"])
        assert sorted((p.host, p.component, p.uploaded) for p in first) == [
            ("node1", "etcd", True),
            ("node1", "kubelet", True),
        ]
        assert first[0].remote_path.startswith(str(cache))
        assert (cache / "etcd" / "v1" / "etcd-amd64").read_bytes() == TOOL
        again = await distribute(runtime, plan, store, remote_dir=str(cache), hosts=["node1"])
        assert [p.uploaded for p in again] == [False, False]

        missing = _plan(_artifact("kube-proxy", {"worker"}))
        with pytest.raises(DistributionError, match="node2: kube-proxy v1 is not in the store"):
            await distribute(runtime, missing, store, remote_dir=str(cache), hosts=["node2"])
