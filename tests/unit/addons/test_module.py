"""The ``addons`` phase as planned: one task per add-on in list order on the first master,
the files each reads there, and the command lines kubexms runs."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubexms.addons import AddonManifest, AddonsModule, fetched_path, helm_argv
from kubexms.artifacts import ChecksumMismatchError
from kubexms.cni import APPLIED_ANNOTATION, HostFiles, load_objects
from kubexms.config import Cluster, parse_config
from kubexms.engine import ExecutionGraph, Pipeline, PlanContext
from kubexms.steps import RenderContext
from tests.unit.config.sample import to_yaml
from tests.unit.kubernetes.sample import cluster_data

MANIFEST = """\
apiVersion: v1
kind: Namespace
metadata:
  name: demo
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  level: info
"""


def cluster(tmp_path: Path, addons: list[dict[str, Any]]) -> Cluster:
    data = cluster_data()
    data["spec"]["addons"] = addons
    data["spec"]["global"]["workDir"] = str(tmp_path / "work")
    return parse_config(to_yaml(data))


def plan(config: Cluster) -> ExecutionGraph:
    return Pipeline("p", [AddonsModule()]).plan(config)


def test_no_addons_no_tasks(tmp_path: Path) -> None:
    config = cluster(tmp_path, [])
    assert AddonsModule().tasks(PlanContext.for_cluster(config)) == []


def test_each_addon_is_a_task_after_the_one_before_on_the_first_master(tmp_path: Path) -> None:
    manifest = tmp_path / "demo.yaml"
    manifest.write_text(MANIFEST)
    values = tmp_path / "values.yaml"
    values.write_text("replicas: 3\n")
    chart = tmp_path / "local-1.0.0.tgz"
    chart.write_bytes(b"not really a chart, only copied")
    config = cluster(
        tmp_path,
        [
            {"name": "demo", "type": "manifest", "manifests": [str(manifest)]},
            {
                "name": "metrics",
                "type": "helm",
                "chart": "metrics-server",
                "repo": "https://charts.example/",
                "version": "3.12.2",
                "valuesFiles": [str(values)],
                "values": {"args": ["--kubelet-insecure-tls"]},
            },
            {"name": "local", "type": "helm", "chart": str(chart), "namespace": "tools"},
        ],
    )
    graph = plan(config)
    assert [node.removeprefix("p/addons/") for node in graph.order] == [
        "tools/kubectl",
        "tools/helm",
        "addon-demo/manifest-0",
        "addon-metrics/values",
        "addon-metrics/helm",
        "addon-local/chart",
        "addon-local/helm",
    ]
    assert {graph.nodes[node].hosts for node in graph.order} == {("master1",)}
    metrics_helm = graph.nodes["p/addons/addon-metrics/helm"].step
    argv = metrics_helm.argv()  # type: ignore[attr-defined]
    addon = config.spec.addons[1]
    assert argv[: len(helm_argv(addon))] == helm_argv(addon)
    assert argv[-1].startswith("--description=kubexms sha256=")
    values_step = graph.nodes["p/addons/addon-metrics/values"].step
    assert isinstance(values_step, HostFiles)
    host = config.resolved_hosts()[0]
    rendered = values_step.rendered_files(RenderContext(config, host, tmp_path))
    assert [(f.path, f.shown()) for f in rendered] == [
        ("/etc/kubexms/addons/metrics/values-0-values.yaml", b"replicas: 3\n"),
        ("/etc/kubexms/addons/metrics/values.yaml", b"args:\n- --kubelet-insecure-tls\n"),
    ]
    assert "replicas" not in str(values_step.params())  # values may hold credentials
    upload = graph.nodes["p/addons/addon-local/chart"].step.params()
    assert upload["dest"] == "/etc/kubexms/addons/local/local-1.0.0.tgz"


def test_a_changed_values_file_changes_the_release_fingerprint(tmp_path: Path) -> None:
    values = tmp_path / "values.yaml"
    entry = {
        "name": "m",
        "type": "helm",
        "chart": "m",
        "repo": "https://charts.example/",
        "version": "1",
        "valuesFiles": [str(values)],
    }
    fingerprints = []
    for text in ("a: 1\n", "a: 2\n", "a: 1\n"):
        values.write_text(text)
        step = plan(cluster(tmp_path, [entry])).nodes["p/addons/addon-m/helm"].step
        fingerprints.append(step.params()["fingerprint"])
    assert fingerprints[0] != fingerprints[1]
    assert fingerprints[0] == fingerprints[2]


def test_a_manifest_is_rendered_annotated(tmp_path: Path) -> None:
    manifest = tmp_path / "demo.yaml"
    manifest.write_text(MANIFEST)
    config = cluster(
        tmp_path,
        [{"name": "demo", "type": "manifest", "namespace": "demo", "manifests": [str(manifest)]}],
    )
    step = plan(config).nodes["p/addons/addon-demo/manifest-0"].step
    assert isinstance(step, AddonManifest)
    (file,) = step.rendered_files(RenderContext(config, config.resolved_hosts()[0], tmp_path))
    assert file.path == "/etc/kubexms/addons/demo/00-demo.yaml"
    objects = load_objects(file.shown().decode(), "x")
    assert [obj["kind"] for obj in objects] == ["Namespace", "ConfigMap"]
    # a namespaced object naming no namespace gets the add-on's; a Namespace none
    assert [obj["metadata"].get("namespace") for obj in objects] == [None, "demo"]
    digest = {obj["metadata"]["annotations"][APPLIED_ANNOTATION] for obj in objects}
    assert len(digest) == 1


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A directory served over HTTP on loopback, and its URL."""
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_url_manifest_is_fetched_once_and_checked(
    tmp_path: Path, served: tuple[Path, str]
) -> None:
    root, base = served
    source = root / "served.yaml"
    source.write_text(MANIFEST)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    url = f"{base}/served.yaml"
    entry = {
        "name": "web",
        "type": "manifest",
        "manifests": [{"url": url, "sha256": digest}],
    }
    config = cluster(tmp_path, [entry])
    step = plan(config).nodes["p/addons/addon-web/manifest-0"].step
    assert isinstance(step, AddonManifest)
    assert step.unavailable(config) == f"{url} is not fetched yet"
    assert len(step.objects(config)) == 2
    kept = fetched_path(config, "web", 0, step.path)
    assert kept.read_text() == MANIFEST
    assert step.unavailable(config) is None
    source.write_text("changed: after pinning\n")
    assert len(step.objects(config)) == 2  # the verified copy, not the changed source
    kept.unlink()
    with pytest.raises(ChecksumMismatchError):
        step.objects(config)
