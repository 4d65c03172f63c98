"""The kubelet unit and kubeadm's drop-in, read by this machine's systemd-analyze."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from kubexms.kubernetes._kubelet_unit import DROP_IN_NAME, kubeadm_drop_in, kubelet_unit


def _verify(tmp_path: Path, unit: str, drop_in: str) -> str:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    (tmp_path / "kubelet.service.d").mkdir()
    (tmp_path / "kubelet.service").write_text(unit)
    (tmp_path / "kubelet.service.d" / DROP_IN_NAME).write_text(drop_in)
    result = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / "kubelet.service")],
        env={"SYSTEMD_UNIT_PATH": f"{tmp_path}:", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return (result.stdout + result.stderr).strip()


def test_systemd_reads_the_unit_and_drop_in_without_a_complaint(tmp_path: Path) -> None:
    # /bin/true stands in for the kubelet binary, which verify wants to exist.
    assert _verify(tmp_path, kubelet_unit("/bin/true"), kubeadm_drop_in("/bin/true")) == ""


def test_the_check_is_not_vacuous_a_typo_in_the_drop_in_is_reported(tmp_path: Path) -> None:
    broken = kubeadm_drop_in("/bin/true").replace("EnvironmentFile=-/etc", "EnvironmentFle=-/etc")
    assert "Unknown key 'EnvironmentFle'" in _verify(tmp_path, kubelet_unit("/bin/true"), broken)


def test_the_drop_in_runs_the_kubelet_with_kubeadms_files() -> None:
    text = kubeadm_drop_in()
    assert "ExecStart=\nExecStart=/usr/local/bin/kubelet $KUBELET_KUBECONFIG_ARGS" in text
    assert "--config=/var/lib/kubelet/config.yaml" in text
    assert "EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env" in text
    assert "Restart=always" in kubelet_unit()
