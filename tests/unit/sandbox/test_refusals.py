"""kubexms.sandbox refusals and plain rules: no fleet is started (some messages need root)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kubexms.cli import _sandbox as sandbox_cli
from kubexms.sandbox import MAX_HOSTS, SandboxError, fleet_down, fleet_status, fleet_up
from kubexms.sandbox import _fleet as fleet_internals
from kubexms.sandbox._cluster_file import role_groups

ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="the simulated fleet needs root")


def exists(path: str | Path) -> bool:
    return os.path.lexists(path)


@pytest.mark.parametrize("count", [0, -1, MAX_HOSTS + 1])
async def test_host_count_out_of_range_is_refused(tmp_path: Path, count: int) -> None:
    expected = "needs root" if not ROOT else "host count must be between 1"
    with pytest.raises(SandboxError, match=expected):
        await fleet_up(count, tmp_path / "fleet")


@needs_root
async def test_directory_under_a_layered_path_is_refused() -> None:
    with pytest.raises(SandboxError, match="inside /var"):
        await fleet_up(1, Path("/var/tmp/kubexms-fleet"))
    assert not exists("/var/tmp/kubexms-fleet")


async def test_not_root_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(SandboxError, match="needs root"):
        await fleet_up(1, tmp_path / "fleet")
    with pytest.raises(SandboxError, match="needs root"):
        await fleet_down(tmp_path / "fleet")
    for args in (["up", "3"], ["down"], ["status"]):
        result = CliRunner().invoke(sandbox_cli.app, [*args, "--dir", str(tmp_path / "fleet")])
        assert result.exit_code == 1
        assert "needs root" in result.output
        assert "Traceback" not in result.output
    assert not exists(tmp_path / "fleet")


def test_cli_reports_a_sandbox_error_without_traceback(tmp_path: Path) -> None:
    if not ROOT:
        pytest.skip("the message below is about the fleet, which root reaches")
    result = CliRunner().invoke(sandbox_cli.app, ["up", "0", "--dir", str(tmp_path / "f")])
    assert result.exit_code == 1
    assert "host count must be between 1" in result.output
    assert "Traceback" not in result.output
    result = CliRunner().invoke(sandbox_cli.app, ["status", "--dir", str(tmp_path / "f")])
    assert result.exit_code == 1
    assert "no fleet in" in result.output


def test_status_without_a_fleet_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SandboxError, match="no fleet in"):
        fleet_status(tmp_path)


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (1, {"master": ["node01"], "etcd": ["node01"], "worker": ["node01"]}),
        (2, {"master": ["node01"], "etcd": ["node01"], "worker": ["node02"]}),
        (
            4,
            {"master": ["node01"], "etcd": ["node01", "node02", "node03"], "worker": ["node04"]},
        ),
    ],
)
def test_roles_follow_fleet_size(count: int, expected: dict[str, list[str]]) -> None:
    assert role_groups(fleet_internals.host_names(count)) == expected


def test_host_names_are_padded_to_the_fleet_size() -> None:
    assert fleet_internals.host_names(3) == ["node01", "node02", "node03"]
    assert fleet_internals.host_names(100)[0] == "node001"
    assert fleet_internals.host_names(100)[-1] == "node100"
