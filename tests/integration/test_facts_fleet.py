"""`kubexms facts` on the simulated fleet, run as a user would run it."""

from __future__ import annotations

import json
import subprocess
import sys

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
