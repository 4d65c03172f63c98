"""`kubexms facts` on the simulated fleet, run as a user would run it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from tests.leasing import LeaseHosts


def _kubexms(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kubexms", *args], capture_output=True, text=True, timeout=120
    )


def test_facts_json_describes_every_host(lease: LeaseHosts, tmp_path: Path) -> None:
    hosts = lease(3)
    done = _kubexms("facts", "-f", str(hosts.cluster_file(tmp_path)), "-o", "json")
    assert done.returncode == 0, done.stderr
    facts = json.loads(done.stdout)
    assert list(facts) == hosts.names
    for host in hosts:
        entry = facts[host.name]
        assert entry["hostname"] == host.name
        assert entry["default_ipv4"] == host.address
        assert entry["os_id"] == "debian"
        assert entry["arch"] in ("amd64", "arm64")
        assert entry["package_manager"] == "apt"
        assert entry["cpus"] >= 1
        assert entry["memory_mib"] > 0
        assert entry["init_system"] == ("systemd" if host.init == "systemd" else "tini")


def test_facts_table_for_chosen_hosts(lease: LeaseHosts, tmp_path: Path) -> None:
    hosts = lease(3)
    chosen = [hosts[0].name, hosts[2].name]
    done = _kubexms("facts", "-f", str(hosts.cluster_file(tmp_path)), "--hosts", ",".join(chosen))
    assert done.returncode == 0, done.stderr
    for name in chosen:
        assert name in done.stdout
    assert hosts[1].name not in done.stdout


def test_facts_on_unknown_host_is_a_clear_error(lease: LeaseHosts, tmp_path: Path) -> None:
    hosts = lease(1)
    done = _kubexms("facts", "-f", str(hosts.cluster_file(tmp_path)), "--hosts", "nosuchhost")
    assert done.returncode == 2
    assert "nosuchhost" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_unreachable_host_is_reported_and_the_others_answer(
    lease: LeaseHosts, tmp_path: Path
) -> None:
    hosts = lease(3)
    data = hosts.cluster_document()
    down = data["spec"]["hosts"][1]
    down["port"] = 2  # a closed port on a fleet host
    broken = tmp_path / "cluster.yaml"
    broken.write_text(yaml.safe_dump(data, sort_keys=False))
    done = _kubexms("facts", "-f", str(broken), "-o", "json")
    assert done.returncode == 1
    facts = json.loads(done.stdout)
    assert list(facts) == hosts.names
    assert "refused" in facts[down["name"]]["error"]
    assert facts[down["name"]]["error"].startswith("unreachable: ")
    answered = [name for name, entry in facts.items() if "error" not in entry]
    assert len(answered) == len(hosts) - 1
    assert down["name"] in done.stderr
    assert "Traceback" not in done.stderr


def test_facts_for_one_host_connects_only_to_it(lease: LeaseHosts, tmp_path: Path) -> None:
    hosts = lease(2)
    data = hosts.cluster_document()
    data["spec"]["hosts"][1]["port"] = 2  # the other host cannot be reached: never tried
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text(yaml.safe_dump(data, sort_keys=False))
    done = _kubexms("facts", "-f", str(cluster), "--hosts", hosts[0].name, "-o", "json")
    assert done.returncode == 0, done.stderr
    assert list(json.loads(done.stdout)) == [hosts[0].name]
    assert hosts[1].name not in done.stderr
