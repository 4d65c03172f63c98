"""`kubexms exec` on real hosts labels each failure by what happened (it said "unreachable"
for every one): a wrong sudo password, a closed port, a command past its timeout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.leasing import LeaseHosts


def _exec(cluster: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    done = subprocess.run(
        [sys.executable, "-m", "kubexms", "exec", "-f", str(cluster), "-o", "json", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode, json.loads(done.stdout), done.stderr


def test_exec_failures_are_labelled_by_what_happened(lease: LeaseHosts, tmp_path: Path) -> None:
    hosts = lease(3)
    wrong_sudo, closed, slow = hosts.names

    def edit(document: dict[str, Any]) -> None:
        for entry in document["spec"]["hosts"]:
            if entry["name"] == wrong_sudo:
                entry["user"] = "deployer"
                entry["sudoPassword"] = "not-the-password"
            if entry["name"] == closed:
                entry["port"] = 2

    cluster = hosts.cluster_file(tmp_path, edit=edit, name="cluster.yaml")
    command = f'[ "$(hostname)" = {slow} ] && exec sleep 30; id -u'
    code, data, err = _exec(cluster, "--sudo", "--timeout", "10", "--", command)
    assert code == 1, err
    labels = {name: data["hosts"][name]["label"] for name in hosts.names}
    assert labels == {wrong_sudo: "sudo refused", closed: "unreachable", slow: "timed out"}
    assert data["hosts"][wrong_sudo]["error"].startswith("sudo refused to run the command")
    assert "timed out after 10s" in data["hosts"][slow]["error"]
