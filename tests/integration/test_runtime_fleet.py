"""new_runtime against real sshd on the simulated fleet."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import asyncssh
import yaml

from kubexms.config import load_config
from kubexms.connector import AuthenticationError, HostConnectionError, HostKeyError
from kubexms.runtime import InitializationError, new_runtime
from tests.leasing import HostLease, LeaseHosts


def _write(data: dict[str, Any], path: Path) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


async def _established_ssh_sessions(hosts: HostLease, host: str) -> int:
    code, out, err = await hosts.exec(host, "ss -Htn state established '( sport = :22 )'")
    assert code == 0, err
    return len([line for line in out.splitlines() if line.strip()])


async def test_twenty_hosts_connect_and_keep_config_order(
    lease: LeaseHosts, tmp_path: Path
) -> None:
    leased = lease(20)
    cluster = load_config(leased.cluster_file(tmp_path))
    expected = leased.names
    for _ in range(3):
        async with await new_runtime(cluster) as runtime:
            assert [host.name for host in runtime.hosts] == expected
            names = await asyncio.gather(
                *(host.runner.must_run("hostname") for host in runtime.hosts)
            )
            assert [result.stdout.strip() for result in names] == expected


async def test_three_distinct_failures_are_named_in_one_error(
    lease: LeaseHosts, tmp_path: Path
) -> None:
    leased = lease(4)  # three that fail in different ways, one that connects
    data = leased.cluster_document()
    hosts = data["spec"]["hosts"]
    unreachable, wrong_key, wrong_host_key = hosts[1]["name"], hosts[2]["name"], hosts[3]["name"]

    # A closed port on a fleet host: nothing listens on 2 there.
    hosts[1]["port"] = 2
    # A key the host has never seen.
    stranger_key = tmp_path / "stranger"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(str(stranger_key))
    hosts[2]["privateKeyPath"] = str(stranger_key)
    # known_hosts that pins another key for the third host's address.
    other_host_key = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    forged = tmp_path / "known_hosts"
    address = hosts[3]["address"]
    lines = []
    for line in leased.fleet.known_hosts_path.read_text().splitlines():
        names = line.split(" ", 1)[0].split(",")
        if address in names or f"[{address}]:22" in names:
            key_type, key = other_host_key.split()[:2]
            line = f"{line.split(' ', 1)[0]} {key_type} {key}"
        lines.append(line)
    forged.write_text("\n".join(lines) + "\n")
    data["spec"]["global"]["knownHostsPath"] = str(forged)

    cluster = load_config(_write(data, tmp_path / "cluster.yaml"))
    try:
        await new_runtime(cluster)
    except InitializationError as error:
        caught = error
    else:
        raise AssertionError("new_runtime should have failed")

    assert caught.failed_hosts == [unreachable, wrong_key, wrong_host_key]
    by_host = {error.host: error for error in caught.errors}
    assert isinstance(by_host[unreachable], HostConnectionError)
    assert isinstance(by_host[wrong_key], AuthenticationError)
    assert isinstance(by_host[wrong_host_key], HostKeyError)
    for name in (unreachable, wrong_key, wrong_host_key):
        assert name in str(caught)

    # Every connection the healthy hosts accepted has been closed again.
    healthy = [name for name in leased.names if name not in by_host]
    for _ in range(50):
        open_sessions = [await _established_ssh_sessions(leased, name) for name in healthy]
        if not any(open_sessions):
            break
        await asyncio.sleep(0.1)
    assert not any(open_sessions), dict(zip(healthy, open_sessions, strict=True))
