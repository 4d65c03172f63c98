"""``-o json`` prints exactly one JSON document, also when the run cannot start."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer

from kubexms.cli._pipeline import Output, plan_or_exit
from kubexms.engine import ExecutionGraph, PlanError
from kubexms.testing import cluster_of


def _kubexms(*args: str) -> tuple[int, str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "kubexms", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def _one_document(stdout: str) -> dict[str, Any]:
    document = json.loads(stdout)  # raises unless stdout is exactly one JSON document
    assert isinstance(document, dict)
    return document


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_config_error_is_one_json_document(tmp_path: Path) -> None:
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text("apiVersion: kubexms.io/v1alpha1\nkind: Cluster\nspec: {hosts: 3}\n")
    code, out, err = _kubexms("init", "os", "-f", str(cluster), "-o", "json")
    assert code == 1
    document = _one_document(out)
    assert document["outcome"] == "config"
    assert document["exit_code"] == 1
    assert document["error"]["kind"] == "config"
    assert "spec.hosts" in document["error"]["message"]
    assert "spec.hosts" in err


def test_hosts_unreachable_at_start_are_one_json_document(tmp_path: Path) -> None:
    port = _closed_port()
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text(
        f"""\
apiVersion: kubexms.io/v1alpha1
kind: Cluster
metadata: {{name: gone}}
spec:
  hosts:
    - {{name: node1, address: 127.0.0.1, port: {port}, user: root, password: "x"}}
  roleGroups: {{master: [node1], etcd: [node1], worker: [node1]}}
  global: {{workDir: {tmp_path / "work"}, hostKeyPolicy: "off"}}
"""
    )
    code, out, err = _kubexms("init", "os", "-f", str(cluster), "-o", "json")
    assert code == 1, err
    document = _one_document(out)
    assert document["outcome"] == "unreachable"
    assert document["error"]["kind"] == "unreachable"
    assert "node1" in document["error"]["message"]
    assert "refused the connection" in document["error"]["message"]
    assert document["log"]


def test_a_bad_packages_dir_is_one_json_document(tmp_path: Path) -> None:
    cluster = cluster_of(1)
    path = tmp_path / "cluster.yaml"
    path.write_text(json.dumps(cluster.model_dump(mode="json", by_alias=True)))
    code, out, _ = _kubexms(
        "init", "os", "-f", str(path), "--packages-dir", str(tmp_path / "none"), "-o", "json"
    )
    assert code == 2
    assert _one_document(out)["error"]["kind"] == "usage"


class _Unplannable:
    name = "broken"

    def plan(self, cluster: object) -> ExecutionGraph:
        raise PlanError("the task 'x' selects no host")


def test_a_plan_error_is_one_json_document(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(typer.Exit) as caught:
        plan_or_exit(_Unplannable(), cluster_of(1), Output.json)  # type: ignore[arg-type]
    assert caught.value.exit_code == 1
    document = _one_document(capsys.readouterr().out)
    assert document["pipeline"] == "broken"
    assert document["error"] == {
        "kind": "plan",
        "message": "cannot plan: the task 'x' selects no host",
    }
