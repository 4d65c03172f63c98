"""The init-os pipeline's plan, and the plan / init os commands that need no hosts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import cast

import typer
import yaml
from typer.testing import CliRunner

from kubexms.hostprep import OSPrepOptions, PackageSource
from kubexms.pipelines import InitOSPipeline
from kubexms.testing import cluster_of

PREFLIGHT = [
    "reachable",
    "os",
    "resources",
    "kernel-modules",
    "ports",
    "clock",
]


def test_plan_shape_with_every_option(tmp_path: Path) -> None:
    options = OSPrepOptions(PackageSource.offline(tmp_path, download=True), timezone="UTC")
    graph = InitOSPipeline(options).plan(cluster_of(3))
    ids = list(graph.nodes)
    assert ids[:6] == [f"init-os/preflight/checks/{name}" for name in PREFLIGHT]
    deps = graph.dependencies
    checks = {f"init-os/preflight/checks/{name}" for name in PREFLIGHT}
    assert all(not deps[check] for check in checks)  # the checks run at once
    for branch in (
        "init-os/os/identity/hostname",
        "init-os/os/kernel/swap-off",
        "init-os/os/download/download-packages",
        "init-os/os/timezone/timezone",
    ):
        assert deps[branch] == checks
    assert deps["init-os/os/kernel/sysctl"] == {"init-os/os/kernel/kernel-modules"}
    assert deps["init-os/os/packages/packages"] == {"init-os/os/download/download-packages"}
    assert graph.nodes["init-os/os/download/download-packages"].hosts == ("@control",)
    assert graph.nodes["init-os/os/packages/packages"].hosts == ("node1", "node2", "node3")


def test_plan_without_download_or_timezone() -> None:
    graph = InitOSPipeline().plan(cluster_of(2))
    assert "init-os/os/timezone/timezone" not in graph.nodes
    assert "init-os/os/download/download-packages" not in graph.nodes
    checks = {f"init-os/preflight/checks/{name}" for name in PREFLIGHT}
    assert graph.dependencies["init-os/os/packages/packages"] == checks
    params = graph.nodes["init-os/os/packages/packages"].step.params()
    assert params["source"] == {"kind": "repositories", "directory": None, "download": False}


def test_hosts_block_maps_the_endpoint_to_the_first_master() -> None:
    config = cluster_of(3, masters=3, extra_spec={"controlPlaneEndpoint": {"domain": "lb.x.local"}})
    graph = InitOSPipeline().plan(config)
    entries = cast(
        list[list[str]], graph.nodes["init-os/os/identity/hosts-file"].step.params()["entries"]
    )
    assert entries[-1] == ["10.213.0.1", "lb.x.local"]
    assert entries[0] == ["10.213.0.1", "node1"]


def test_plan_hash_changes_with_the_options() -> None:
    config = cluster_of(2)
    plain = InitOSPipeline().plan(config).fingerprint()
    with_zone = InitOSPipeline(OSPrepOptions(timezone="UTC")).plan(config).fingerprint()
    assert plain != with_zone
    assert plain == InitOSPipeline().plan(config).fingerprint()


def cli() -> typer.Typer:
    from kubexms.cli._pipeline import init_app, plan_app

    app = typer.Typer()
    app.add_typer(init_app, name="init")
    app.add_typer(plan_app, name="plan")
    return app


def cluster_file(tmp_path: Path, hosts: int = 2) -> Path:
    path = tmp_path / "cluster.yaml"
    document = cluster_of(hosts, work_dir=tmp_path / "work").model_dump(
        mode="json", by_alias=True, exclude_defaults=True
    )
    path.write_text(yaml.safe_dump(document))
    return path


def test_plan_command_prints_json_without_connecting(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli(),
        ["plan", "init-os", "-f", str(cluster_file(tmp_path)), "-o", "json", "--timezone", "UTC"],
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["pipeline"] == "init-os"
    assert document["hosts"] == ["node1", "node2"]
    assert document["nodes"][-1]["id"] == "init-os/os/timezone/timezone"
    assert len(document["plan_hash"]) == 64


def test_plan_command_tree(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli(), ["plan", "init-os", "-f", str(cluster_file(tmp_path))])
    assert result.exit_code == 0, result.output
    assert "init-os (12 steps, 2 hosts" in result.stdout
    assert "hosts-file" in result.stdout


def test_init_os_with_a_bad_packages_dir_fails_before_connecting(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli(),
        ["init", "os", "-f", str(cluster_file(tmp_path)), "--packages-dir", str(tmp_path / "x")],
    )
    assert result.exit_code == 2
    assert "is not a directory" in result.output


def test_init_os_with_a_bad_cluster_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: kubexms.io/v1alpha1\nkind: Cluster\nspec: {}\n")
    result = CliRunner().invoke(cli(), ["init", "os", "-f", str(bad)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output


def plan_json(path: Path, *flags: str) -> dict[str, object]:
    result = CliRunner().invoke(cli(), ["plan", "init-os", "-f", str(path), "-o", "json", *flags])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    (packages,) = [node for node in document["nodes"] if node["step"] == "packages"]
    return cast(dict[str, object], packages["params"]["source"])


def test_package_source_from_the_cluster_file_and_flags(tmp_path: Path) -> None:
    path = cluster_file(tmp_path)
    work = tmp_path / "work"
    assert plan_json(path) == {
        "kind": "auto",
        "directory": str(work / "packages" / "deb"),
        "download": False,
    }
    document = yaml.safe_load(path.read_text())
    document["spec"]["osPackages"] = {"source": "repositories"}
    path.write_text(yaml.safe_dump(document))
    assert plan_json(path)["kind"] == "repositories"
    flagged = plan_json(path, "--packages-dir", str(tmp_path))
    assert flagged == {"kind": "offline", "directory": str(tmp_path), "download": False}


def test_a_bad_package_source_names_its_field(tmp_path: Path) -> None:
    path = cluster_file(tmp_path)
    document = yaml.safe_load(path.read_text())
    document["spec"]["osPackages"] = {"source": "internet"}
    path.write_text(yaml.safe_dump(document))
    result = CliRunner().invoke(cli(), ["plan", "init-os", "-f", str(path)])
    assert result.exit_code != 0
    assert "spec.osPackages.source" in result.output
    assert "Traceback" not in result.output
