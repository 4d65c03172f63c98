"""The binary-mode systemd units, read by this machine's systemd-analyze."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from kubexms.kubernetes.binary import (
    apiserver_args,
    controller_manager_args,
    kube_proxy_args,
    kubelet_args,
    render_unit,
    scheduler_args,
    systemd_quote,
)
from tests.unit.kubernetes.sample import make_cluster


def _verify(tmp_path: Path, name: str, text: str) -> str:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    (tmp_path / f"{name}.service").write_text(text)
    result = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / f"{name}.service")],
        env={"SYSTEMD_UNIT_PATH": f"{tmp_path}:", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return (result.stdout + result.stderr).strip()


def _units() -> dict[str, dict[str, str]]:
    cluster = make_cluster(
        kubernetes={"type": "kubexm", "apiServer": {"extraArgs": {"cors-allowed-origins": "a b"}}}
    )
    return {
        "kube-apiserver": apiserver_args(cluster, "10.213.0.11"),
        "kube-controller-manager": controller_manager_args(cluster),
        "kube-scheduler": scheduler_args(cluster),
        "kubelet": kubelet_args(cluster, "worker1", "10.213.0.14"),
        "kube-proxy": kube_proxy_args(cluster),
    }


@pytest.mark.parametrize("component", sorted(_units()))
def test_systemd_reads_each_unit_without_a_complaint(component: str, tmp_path: Path) -> None:
    # /bin/true stands in for the binary, which verify wants to exist.
    text = render_unit(component, _units()[component], executable="/bin/true")
    assert _verify(tmp_path, component, text) == ""


def test_the_check_is_not_vacuous_a_typo_is_reported(tmp_path: Path) -> None:
    text = render_unit("kube-proxy", {"config": "/x"}, executable="/bin/true")
    broken = text.replace("RestartSec=", "RestartSek=")
    assert "Unknown key" in _verify(tmp_path, "kube-proxy", broken)


def test_exec_start_is_the_whole_command_line_one_flag_a_line() -> None:
    args = _units()["kube-apiserver"]
    text = render_unit("kube-apiserver", args)
    start = text.split("ExecStart=", 1)[1].split("\nRestart=", 1)[0]
    words = shlex.split(start.replace("\\\n", " "))
    assert words[0] == "/usr/local/bin/kube-apiserver"
    assert words[1:] == [f"--{name}={value}" for name, value in args.items()]
    assert "--cors-allowed-origins=a b" in words


def test_systemd_quoting_keeps_specifiers_and_variables_literal() -> None:
    assert systemd_quote("--a=b,c") == "--a=b,c"
    assert systemd_quote("--x=50%") == "--x=50%%"
    assert systemd_quote("--y=$HOME") == '"--y=$$HOME"'
    assert systemd_quote('--z=a "b"') == '"--z=a \\"b\\""'
