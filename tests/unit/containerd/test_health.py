"""The container-runtime phase's health command, run by sh over stand-ins of ctr and crictl in
a directory of their own (the command's /usr/local/bin swapped for it): the CRI plugin must be
``ok``, and a crictl that runs must answer ``crictl info``; one that cannot even say its
version is not asked."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from kubexms.containerd._layout import BIN_DIR
from kubexms.containerd._module import HEALTH

PLUGINS = """TYPE                            ID     PLATFORMS      STATUS
io.containerd.grpc.v1           cri    linux/amd64    {cri}
"""


def _script(path: Path, body: str) -> None:
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def _healthy(tmp_path: Path, *, cri: str, crictl: str | None) -> bool:
    log = tmp_path / "crictl.log"
    _script(tmp_path / "ctr", f"cat <<'EOF'\n{PLUGINS.format(cri=cri)}EOF")
    if crictl is not None:
        _script(tmp_path / "crictl", f'echo "$*" >> {log}\n{crictl}')
    assert HEALTH.command is not None
    command = HEALTH.command.replace(f"{BIN_DIR}/", f"{tmp_path}/")
    return subprocess.run(["sh", "-c", command], check=False).returncode == 0


@pytest.mark.parametrize(
    ("cri", "crictl", "healthy"),
    [
        ("ok", "exit 0", True),
        ("error", "exit 0", False),
        ("ok", '[ "$1" = --version ] && exit 0; echo "connection refused" >&2; exit 1', False),
        ("ok", "exit 3", True),  # cannot say its version: not a judge of containerd
        ("ok", None, True),  # absent
    ],
)
def test_the_cri_plugin_and_a_working_crictl_decide(
    tmp_path: Path, cri: str, crictl: str | None, healthy: bool
) -> None:
    assert _healthy(tmp_path, cri=cri, crictl=crictl) is healthy


def test_crictl_info_is_asked_at_containerd_socket(tmp_path: Path) -> None:
    assert _healthy(tmp_path, cri="ok", crictl="exit 0")
    calls = (tmp_path / "crictl.log").read_text().splitlines()
    assert calls == ["--version", "--runtime-endpoint unix:///run/containerd/containerd.sock info"]
