"""The ``cni`` phase as planned and rendered: which steps on which hosts, the manifest the first
master applies (annotated, valid for each Kubernetes version of the BOM), and a network change
of an existing cluster refused with the field's path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from kubexms.artifacts import ArtifactStore
from kubexms.cni import (
    APPLIED_ANNOTATION,
    CniModule,
    NetworkRecord,
    PluginManifest,
    daemonset_selectors,
    load_objects,
)
from kubexms.cni._applied import manifest_digest
from kubexms.cni._module import PLUGIN_DAEMONSETS, plugin_objects
from kubexms.config import Cluster, parse_config
from kubexms.engine import ExecutionGraph, Pipeline, PlanError
from kubexms.steps import RenderContext
from tests.unit.cni.test_sources import calico_archive, store_with
from tests.unit.cni.upstream import (
    FIXTURES,
    bom_minors,
    kubernetes_version,
    manifest_version,
)
from tests.unit.config.sample import to_yaml
from tests.unit.kubernetes.sample import cluster_data

MINORS = bom_minors()
FLANNEL_PIN = {"overrides": {"flannel-manifest": {"sha256": {"noarch": "a" * 64}}}}


def network_cluster(tmp_path: Path, plugin: str, minor: str = "1.31", **network: Any) -> Cluster:
    data = cluster_data(version=kubernetes_version(minor))
    data["spec"]["network"] = {"plugin": plugin, **network}
    data["spec"]["global"]["workDir"] = str(tmp_path / "work")
    if plugin == "flannel":
        data["spec"]["artifacts"] = FLANNEL_PIN
    return parse_config(to_yaml(data))


def with_manifest(cluster: Cluster, tmp_path: Path, minor: str) -> None:
    """Put the plugin's upstream manifest (the fixture) into the cluster's artifact store."""
    store = ArtifactStore.for_cluster(cluster)
    plugin = cluster.spec.network.plugin
    if plugin == "calico":
        version = manifest_version(minor, "calico-manifests")
        upstream = (FIXTURES / f"calico-{version}.yaml").read_bytes()
        top = f"calico-{version.lstrip('v')}"
        archive = calico_archive(
            tmp_path / f"calico-{version}.tar.gz", {f"{top}/manifests/calico.yaml": upstream}
        )
        store_with(store, "calico-manifests", version, archive.name, archive)
    else:
        version = manifest_version(minor, "flannel-manifest")
        fixture = FIXTURES / f"kube-flannel-{version}.yml"
        store_with(store, "flannel-manifest", version, f"kube-flannel-{version}.yml", fixture)


def plan(cluster: Cluster) -> ExecutionGraph:
    return Pipeline("p", [CniModule()]).plan(cluster)


def steps_on(graph: ExecutionGraph) -> dict[str, tuple[str, ...]]:
    return {node_id.removeprefix("p/cni/"): graph.nodes[node_id].hosts for node_id in graph.order}


def rendered_manifest(cluster: Cluster, graph: ExecutionGraph) -> list[dict[str, Any]]:
    step = graph.nodes["p/cni/install/apply"].step
    assert isinstance(step, PluginManifest)
    host = cluster.resolved_hosts()[0]
    (file,) = step.rendered_files(RenderContext(cluster, host, Path("/nonexistent")))
    assert file.path == f"/etc/kubexms/cni/{cluster.spec.network.plugin}.yaml"
    assert file.mode == 0o600
    return load_objects(file.shown().decode(), "rendered")


@pytest.mark.parametrize("plugin", ["calico", "flannel"])
def test_a_manifest_plugin_is_applied_from_the_first_master_then_waited_for(
    tmp_path: Path, plugin: str
) -> None:
    graph = plan(network_cluster(tmp_path, plugin))
    nodes = ("master1", "master2", "master3", "worker1", "worker2")
    assert steps_on(graph) == {
        "configs/no-foreign-config": nodes,
        "install/kubectl": ("master1",),
        "install/apply": ("master1",),
        "ready/ready": ("master1",),
        "record/record": ("@control",),
    }
    ready = graph.nodes["p/cni/ready/ready"].step.params()
    assert ready["daemonsets"] == [list(PLUGIN_DAEMONSETS[plugin])]


def test_cilium_is_installed_with_helm_from_the_store(tmp_path: Path) -> None:
    graph = plan(network_cluster(tmp_path, "cilium"))
    assert list(steps_on(graph)) == [
        "configs/no-foreign-config",
        "install/kubectl",
        "install/artifact-helm",
        "install/chart",
        "install/values",
        "install/helm",
        "ready/ready",
        "record/record",
    ]
    helm = graph.nodes["p/cni/install/helm"].step
    argv = helm.argv()  # type: ignore[attr-defined]
    assert argv[:5] == ["/usr/local/bin/helm", "upgrade", "--install", "cilium", argv[4]]
    assert argv[4].startswith("/etc/kubexms/cni/cilium-")
    assert argv[4].endswith(".tgz")
    assert "--kubeconfig=/etc/kubernetes/admin.conf" in argv
    assert "--values=/etc/kubexms/cni/cilium-values.yaml" in argv
    assert any(arg.startswith("--description=kubexms sha256=") for arg in argv)
    chart = graph.nodes["p/cni/install/chart"].step.params()
    assert chart["component"] == "cilium-chart"


@pytest.mark.parametrize("minor", MINORS)
@pytest.mark.parametrize("plugin", ["calico", "flannel"])
def test_the_rendered_manifest_is_annotated_and_valid_for_the_version(
    tmp_path: Path, plugin: str, minor: str
) -> None:
    cluster = network_cluster(tmp_path, plugin, minor, kubePodsCIDR="10.50.0.0/16")
    with_manifest(cluster, tmp_path, minor)
    objects = rendered_manifest(cluster, plan(cluster))
    plain = plugin_objects(cluster)
    digest = manifest_digest(plain)
    assert len(objects) == len(plain)
    for obj, original in zip(objects, plain, strict=True):
        assert obj["metadata"]["annotations"][APPLIED_ANNOTATION] == digest
        obj["metadata"]["annotations"].pop(APPLIED_ANNOTATION)
        if not obj["metadata"]["annotations"]:
            obj["metadata"].pop("annotations")
        assert obj == original  # the annotation is the only difference
        kubernetes_validate.validate(obj, f"{minor}.0", strict=True)
    # The pod CIDR reaches the plugin (the plugins' own tests check where exactly).
    assert "10.50.0.0/16" in yaml.safe_dump_all(objects)
    # What the phase waits for is what the manifest has.
    namespace, name, selector = PLUGIN_DAEMONSETS[plugin]
    assert (namespace, name, selector) in daemonset_selectors(plain)


def test_before_the_store_has_the_manifest_the_render_says_so(tmp_path: Path) -> None:
    cluster = network_cluster(tmp_path, "calico")
    step = plan(cluster).nodes["p/cni/install/apply"].step
    assert isinstance(step, PluginManifest)
    (file,) = step.rendered_files(RenderContext(cluster, cluster.resolved_hosts()[0], tmp_path))
    assert file.shown().decode() == (
        "# calico: not rendered: calico-manifests v3.29.7 is not in the artifact store yet\n"
    )


def test_a_cidr_change_of_an_existing_cluster_is_refused_with_the_field_path(
    tmp_path: Path,
) -> None:
    cluster = network_cluster(tmp_path, "calico")
    NetworkRecord.of(cluster.spec.network).write(cluster.work_dir)
    plan(cluster)  # the same network plans
    changed = network_cluster(tmp_path, "calico", kubePodsCIDR="10.99.0.0/16")
    with pytest.raises(PlanError) as error:
        plan(changed)
    message = str(error.value)
    assert "spec.network.kubePodsCIDR" in message
    assert "10.233.64.0/18" in message


def test_a_plugin_change_of_an_existing_cluster_is_refused(tmp_path: Path) -> None:
    cluster = network_cluster(tmp_path, "calico")
    NetworkRecord.of(cluster.spec.network).write(cluster.work_dir)
    with pytest.raises(PlanError, match=r"spec\.network\.plugin"):
        plan(network_cluster(tmp_path, "cilium"))
