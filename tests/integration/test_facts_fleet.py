"""`kubexms facts` on the simulated fleet, run as a user would run it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from kubexms.sandbox import Fleet


def _kubexms(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kubexms", *args], capture_output=True, text=True, timeout=120
    )


def test_facts_json_describes_every_fleet_host(fleet: Fleet) -> None:
    done = _kubexms("facts", "-f", str(fleet.cluster_file), "-o", "json")
    assert done.returncode == 0, done.stderr
    facts = json.loads(done.stdout)
    assert list(facts) == [host.name for host in fleet.hosts]
    for host in fleet.hosts:
        entry = facts[host.name]
        assert entry["hostname"] == host.name
        assert entry["default_ipv4"] == host.address
        assert entry["os_id"] == "debian"
        assert entry["arch"] in ("amd64", "arm64")
        assert entry["package_manager"] == "apt"
        assert entry["cpus"] >= 1
        assert entry["memory_mib"] > 0
        assert entry["init_system"] == ("systemd" if host.init == "systemd" else "tini")


def test_facts_table_for_chosen_hosts(fleet: Fleet) -> None:
    chosen = [fleet.hosts[0].name, fleet.hosts[-1].name]
    done = _kubexms("facts", "-f", str(fleet.cluster_file), "--hosts", ",".join(chosen))
    assert done.returncode == 0, done.stderr
    for name in chosen:
        assert name in done.stdout
    assert fleet.hosts[1].name not in done.stdout


def test_facts_on_unknown_host_is_a_clear_error(fleet: Fleet) -> None:
    done = _kubexms("facts", "-f", str(fleet.cluster_file), "--hosts", "nosuchhost")
    assert done.returncode == 2
    assert "nosuchhost" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_unreachable_host_is_reported_and_the_others_answer(
    fleet: Fleet, tmp_path: Path
) -> None:
    data: dict[str, Any] = yaml.safe_load(fleet.cluster_file.read_text())
    down = data["spec"]["hosts"][1]
    down["port"] = 2  # a closed port on a fleet host
    broken = tmp_path / "cluster.yaml"
    broken.write_text(yaml.safe_dump(data, sort_keys=False))
    done = _kubexms("facts", "-f", str(broken), "-o", "json")
    assert done.returncode == 1
    facts = json.loads(done.stdout)
    assert list(facts) == [host.name for host in fleet.hosts]
    assert "refused" in facts[down["name"]]["error"]
    answered = [name for name, entry in facts.items() if "error" not in entry]
    assert len(answered) == len(fleet.hosts) - 1
    assert down["name"] in done.stderr
    assert "Traceback" not in done.stderr
