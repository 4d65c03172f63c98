"""`kubexms config validate|schema` and `kubexms create config`, run through typer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
import yaml
from typer.testing import CliRunner

from kubexms.cli._config import app, create_config
from kubexms.config import parse_config

from .sample import base, to_yaml

runner = CliRunner()

# `create_config` is a plain function the root CLI registers as `kubexms create config`;
# this stand-in registers it the same way.
create_app = typer.Typer()


@create_app.command()
def _create(
    output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
    name: Annotated[str, typer.Option("--name")] = "demo",
    force: Annotated[bool, typer.Option("--force")] = False,
) -> None:
    create_config(output, name, force)


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cluster.yaml"
    path.write_text(text)
    return path


def test_validate_a_valid_file(tmp_path: Path) -> None:
    path = _write(tmp_path, to_yaml(base()))
    result = runner.invoke(app, ["validate", "-f", str(path)])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{path}: valid (3 hosts, roles master=1, worker=2, etcd=1)\n"


def test_validate_lists_every_problem_on_stderr(tmp_path: Path) -> None:
    data = base()
    data["spec"]["hosts"][2]["port"] = 70000
    data["spec"]["roleGroups"]["worker"].append("node[4:5]")
    path = _write(tmp_path, to_yaml(data))
    result = runner.invoke(app, ["validate", "--file", str(path)])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stdout == ""
    assert "2 problems" in result.stderr
    assert f"{path}:" in result.stderr
    assert "spec.hosts[2].port: must be between 1 and 65535" in result.stderr
    # Brackets in paths survive rich's markup.
    assert "spec.roleGroups.worker[2]: 'node[4:5]' includes unknown hosts node4, node5" in (
        result.stderr
    )
    assert "Traceback" not in result.output


def test_validate_missing_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", "-f", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1
    assert "file not found" in result.stderr
    assert "Traceback" not in result.output


def test_validate_broken_yaml(tmp_path: Path) -> None:
    path = _write(tmp_path, "apiVersion: [\n")
    result = runner.invoke(app, ["validate", "-f", str(path)])
    assert result.exit_code == 1
    assert "not valid YAML" in result.stderr
    assert "Traceback" not in result.output


def test_validate_needs_a_file() -> None:
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 2
    assert "--file" in result.output


def test_schema_prints_json() -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert "spec" in schema["properties"]


def test_create_config_prints_the_scaffold() -> None:
    result = runner.invoke(create_app, ["--name", "lab"])
    assert result.exit_code == 0
    assert parse_config(result.stdout).name == "lab"
    assert result.stdout.startswith("# kubexms cluster file")


def test_create_config_writes_a_file_that_validates(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "cluster.yaml"
    result = runner.invoke(create_app, ["-o", str(target)])
    assert result.exit_code == 0
    assert yaml.safe_load(target.read_text())["metadata"]["name"] == "demo"
    validated = runner.invoke(app, ["validate", "-f", str(target)])
    assert validated.exit_code == 0
    assert "valid (3 hosts" in validated.stdout


def test_create_config_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    target = _write(tmp_path, "mine\n")
    result = runner.invoke(create_app, ["-o", str(target)])
    assert result.exit_code == 1
    assert "already exists; use --force" in result.stderr
    assert target.read_text() == "mine\n"
    forced = runner.invoke(create_app, ["-o", str(target), "--force", "--name", "again"])
    assert forced.exit_code == 0
    assert parse_config(target.read_text()).name == "again"


def test_create_config_with_a_bad_name() -> None:
    result = runner.invoke(create_app, ["--name", "Bad_Name"])
    assert result.exit_code == 1
    assert "is not a valid name" in result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.output
