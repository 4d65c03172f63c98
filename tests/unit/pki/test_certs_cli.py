"""`kubexms certs generate` and `kubexms certs check-expiration`, run through typer."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
import yaml
from typer.testing import CliRunner, Result

from kubexms._logging_setup import configure_logging
from kubexms.cli._certs import app

from .support import cluster_document, copy_pki

WIDE = {"COLUMNS": "250"}


@pytest.fixture(autouse=True)
def _logging_as_the_cli_sets_it() -> Iterator[None]:
    # The root CLI sends warnings and worse to stderr; stdout stays the command's output.
    configure_logging("warning", "console")
    yield
    structlog.reset_defaults()


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args), env=WIDE)


def write_cluster(tmp_path: Path, document: dict[str, object] | None = None) -> Path:
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump(document or cluster_document()))
    return path


def test_generate_lists_what_it_made_then_what_it_kept(tmp_path: Path) -> None:
    cluster = write_cluster(tmp_path)
    directory = tmp_path / "out"
    first = invoke("generate", "-f", str(cluster), "--dir", str(directory))
    assert first.exit_code == 0, first.output
    assert first.stdout.count(" created ") == 23
    assert first.stdout.strip().endswith(f"23 created, 0 regenerated, 0 kept in {directory}")
    second = invoke("generate", "-f", str(cluster), "--dir", str(directory))
    assert second.exit_code == 0, second.output
    assert second.stdout.strip().endswith(f"0 created, 0 regenerated, 23 kept in {directory}")


def test_generate_says_why_it_regenerated(pki_dir: Path, tmp_path: Path) -> None:
    directory = copy_pki(pki_dir, tmp_path / "pki")
    document = cluster_document()
    document["spec"]["kubernetes"]["apiServer"]["certSANs"].append("10.1.2.3")
    result = invoke(
        "generate", "-f", str(write_cluster(tmp_path, document)), "--dir", str(directory)
    )
    assert result.exit_code == 0, result.output
    (line,) = [line for line in result.stdout.splitlines() if "regenerated" in line and "│" in line]
    assert "apiserver " in line
    assert "SANs no longer match the config: it adds IP:10.1.2.3" in line
    assert "0 created, 1 regenerated, 22 kept" in result.stdout


def test_generate_defaults_to_the_work_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("generate", "-f", str(write_cluster(tmp_path)))
    assert result.exit_code == 0, result.output
    assert (tmp_path / ".kubexms" / "pki-test" / "pki" / "ca.crt").is_file()


def test_generate_into_a_file_is_a_clear_error(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.write_text("")
    result = invoke("generate", "-f", str(write_cluster(tmp_path)), "--dir", str(target))
    assert result.exit_code == 1
    assert f"error: {target} exists and is not a directory" in result.stderr
    assert "Traceback" not in result.output


def test_check_expiration_table_and_json(pki_dir: Path, tmp_path: Path) -> None:
    cluster = str(write_cluster(tmp_path))
    table = invoke("check-expiration", "-f", cluster, "--dir", str(pki_dir))
    assert table.exit_code == 0, table.output
    rows = [line for line in table.stdout.splitlines() if line.startswith("│")]
    assert len(rows) == 22
    (row,) = [row for row in rows if "│ etcd/peer-node2 " in row]
    assert [cell.strip() for cell in row.strip("│").split("│")][2:] == ["364", "etcd/ca", "local"]
    data = json.loads(
        invoke("check-expiration", "-f", cluster, "--dir", str(pki_dir), "-o", "json").stdout
    )
    assert data["unreachable"] == {}
    admin = next(c for c in data["certificates"] if c["name"] == "kubeconfig/admin.conf")
    assert (admin["authority"], admin["subject"], admin["days_left"]) == (
        "ca",
        "kubernetes-admin",
        364,
    )


def test_check_expiration_without_a_pki_says_what_to_do(tmp_path: Path) -> None:
    result = invoke(
        "check-expiration", "-f", str(write_cluster(tmp_path)), "--dir", str(tmp_path / "x")
    )
    assert result.exit_code == 1
    assert "no PKI in" in result.stderr
    assert "kubexms certs generate" in result.stderr


def test_check_expiration_on_an_unknown_host_is_a_usage_error(
    pki_dir: Path, tmp_path: Path
) -> None:
    cluster = str(write_cluster(tmp_path))
    result = invoke("check-expiration", "-f", cluster, "--dir", str(pki_dir), "--hosts", "nosuch")
    assert result.exit_code == 2
    assert "nosuch" in result.stderr


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_remote_check_reports_unreachable_hosts_without_failing(
    pki_dir: Path, tmp_path: Path
) -> None:
    # This machine through the local connector, and a host whose SSH port is closed.
    document = cluster_document()
    document["spec"]["hosts"] = [
        {"name": "here", "address": "127.0.0.1", "connector": "local"},
        {"name": "gone", "address": "127.0.0.1", "port": _closed_port(), "user": "root"},
    ]
    document["spec"]["roleGroups"] = {"master": ["here"], "etcd": ["here"], "worker": ["gone"]}
    document["spec"]["controlPlaneEndpoint"] = {}
    document["spec"]["global"] = {"connectionTimeout": 10}
    cluster = str(write_cluster(tmp_path, document))
    result = invoke(
        "check-expiration", "-f", cluster, "--dir", str(pki_dir), "--remote", "-o", "json"
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert list(data["unreachable"]) == ["gone"]
    assert "could not read 1 of 2 hosts" in result.stderr
    assert "gone" in result.stderr
    locations = {c["location"] for c in data["certificates"]}
    assert "local" in locations
    assert "gone" not in locations
