"""The plans of ``create cluster`` for fixed cluster files, pinned.

Three files: the scaffold ``kubexms create config`` writes, and the shapes of the binary and
the kubeadm e2e clusters. For each, the whole plan's steps (id, kind, hosts, what each waits
for), and for ``--only <phase>`` of every component phase what the foundation phases are
limited to (hosts checked and prepared, artifacts fetched and placed, PKI items made): what the
component modules' declarations decide. A refactoring must leave them as they are; a change
of plan that is meant is written into ``plan_pins.json`` with
``KUBEXMS_WRITE_PLAN_PINS=1 pytest tests/unit/pipelines/test_plan_pins.py`` and reviewed in
the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubexms.config import parse_config, scaffold_config
from kubexms.engine import ExecutionGraph
from kubexms.pipelines import CreateClusterPipeline, PhaseSelection
from kubexms.pipelines._create_cluster import COMPONENT_PHASES

PINS = Path(__file__).with_name("plan_pins.json")
WORK_DIR = "/var/lib/kubexms-plan-pins"  # never created: planning writes nothing


def _hosts(count: int) -> list[dict[str, str]]:
    return [{"name": f"node{i}", "address": f"10.9.0.{10 + i}"} for i in range(1, count + 1)]


def _binary(spec: dict[str, Any]) -> None:
    masters = ["node1", "node2", "node3"]
    spec["hosts"] = _hosts(5)
    spec["roleGroups"] = {"master": masters, "etcd": masters, "worker": ["node4", "node5"]}
    spec["kubernetes"]["type"] = "kubexm"
    spec["controlPlaneEndpoint"]["loadBalancer"] = {"type": "internal", "kind": "haproxy"}
    spec["network"] = {"plugin": "calico"}
    spec["addons"] = [
        {
            "name": "demo",
            "type": "helm",
            "chart": "demo",
            "repo": "https://charts.example.test",
            "version": "0.1.0",
        }
    ]


def _kubeadm(spec: dict[str, Any]) -> None:
    masters = ["node1", "node2", "node3"]
    spec["hosts"] = _hosts(6)
    spec["roleGroups"] = {
        "master": masters,
        "etcd": masters,
        "worker": ["node4", "node5"],
        "loadbalancer": ["node4", "node5"],
        "registry": ["node6"],
    }
    spec["controlPlaneEndpoint"] = {
        "address": "10.9.0.100",
        "loadBalancer": {"type": "external", "kind": "haproxy"},
    }
    spec["registry"] = {"type": "registry", "privateRegistry": "registry.kubexms.test:5443"}
    spec["network"] = {"plugin": "cilium"}


def _document(edit: Any) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(scaffold_config("demo"))
    document["spec"]["global"]["workDir"] = WORK_DIR
    if edit is not None:
        edit(document["spec"])
    return document


CLUSTERS = {"scaffold": None, "binary": _binary, "kubeadm": _kubeadm}


def _plan(name: str, only: tuple[str, ...] = ()) -> ExecutionGraph:
    cluster = parse_config(yaml.safe_dump(_document(CLUSTERS[name])))
    return CreateClusterPipeline(PhaseSelection.choose(only)).plan(cluster)


def _nodes(graph: ExecutionGraph) -> list[dict[str, Any]]:
    """The plan's nodes as ``plan -o json`` shows them."""
    described: list[dict[str, Any]] = json.loads(json.dumps(graph.describe()))
    return described


def _steps(graph: ExecutionGraph) -> list[str]:
    return [
        f"{node['id']} {node['kind']} on {','.join(node['hosts'])}"
        + (f" after {','.join(node['depends_on'])}" if node["depends_on"] else "")
        for node in _nodes(graph)
    ]


def _limits(graph: ExecutionGraph) -> dict[str, Any]:
    nodes = {node["id"]: node for node in _nodes(graph)}

    def hosts(node_id: str) -> list[str]:
        return list(nodes[node_id]["hosts"]) if node_id in nodes else []

    prefix = "create-cluster/artifacts/place-"
    fetch = nodes.get("create-cluster/artifacts/fetch/fetch")
    pki = nodes.get("create-cluster/pki/generate/generate")
    return {
        "checked": hosts("create-cluster/preflight/checks/ports"),
        "prepared": hosts("create-cluster/os/packages/packages"),
        "fetched": fetch["params"]["components"] if fetch is not None else None,
        "placed": {k[len(prefix) :]: v["hosts"] for k, v in nodes.items() if k.startswith(prefix)},
        "certificates": pki["params"]["only"] if pki is not None else None,
    }


def _pins(name: str) -> dict[str, Any]:
    return {
        "steps": _steps(_plan(name)),
        "only": {phase: _limits(_plan(name, (phase,))) for phase in COMPONENT_PHASES},
    }


@pytest.mark.parametrize("name", list(CLUSTERS))
def test_the_plan_of_a_fixed_cluster_file_is_what_was_pinned(name: str) -> None:
    found = _pins(name)
    pinned = json.loads(PINS.read_text()) if PINS.exists() else {}
    if os.environ.get("KUBEXMS_WRITE_PLAN_PINS") == "1":
        pinned[name] = found
        PINS.write_text(json.dumps(pinned, indent=1, sort_keys=True) + "\n")
    assert found == pinned[name]
