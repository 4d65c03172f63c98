"""`kubexms certs check-expiration --remote` on a fleet host holding certificates we put there.

One leased host gets kubeadm's layout and an etcd directory in kubexms's; a
second, made-up host has its SSH port closed on loopback. The check reads the first, names
each certificate's CA after the local PKI, never carries a private key off the host, and
reports the second as unreachable without failing. The files are removed afterwards.
"""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import tarfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio
import yaml

from kubexms.config import load_config
from kubexms.pki import PkiOptions, generate_pki, local_expirations
from tests.leasing import HostLease, LeaseHosts

PLACED = ("/etc/kubernetes", "/etc/ssl/etcd")


def kubexms_certs(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kubexms", "certs", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "250"},
    )


def closed_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cluster_for(hosts: HostLease, directory: Path) -> Path:
    """A cluster file of the leased host plus a host nobody answers for."""
    document = hosts.cluster_document()
    target = dict(document["spec"]["hosts"][0])
    ghost = {"name": "ghost", "address": "127.0.0.1", "port": closed_loopback_port()}
    document["spec"]["hosts"] = [target, ghost]
    document["spec"]["roleGroups"] = {
        "master": [target["name"]],
        "etcd": [target["name"]],
        "worker": ["ghost"],
    }
    path = directory / "cluster.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def host_files(pki: Path, host: str) -> bytes:
    """A tar (rooted at /) of what a master running kubexm's etcd would hold."""
    files = {
        "etc/kubernetes/pki/ca.crt": pki / "ca.crt",
        "etc/kubernetes/pki/ca.key": pki / "ca.key",
        "etc/kubernetes/pki/apiserver.crt": pki / "apiserver.crt",
        "etc/kubernetes/pki/apiserver.key": pki / "apiserver.key",
        "etc/kubernetes/pki/front-proxy-client.crt": pki / "front-proxy-client.crt",
        "etc/kubernetes/pki/etcd/ca.crt": pki / "etcd/ca.crt",
        "etc/kubernetes/pki/etcd/server.crt": pki / f"etcd/server-{host}.crt",
        "etc/kubernetes/pki/etcd/server.key": pki / f"etcd/server-{host}.key",
        "etc/kubernetes/admin.conf": pki / "kubeconfig/admin.conf",
        "etc/ssl/etcd/ssl/ca.pem": pki / "etcd/ca.crt",
        f"etc/ssl/etcd/ssl/member-{host}.pem": pki / f"etcd/peer-{host}.crt",
        f"etc/ssl/etcd/ssl/member-{host}-key.pem": pki / f"etcd/peer-{host}.key",
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, source in files.items():
            data = source.read_bytes()
            if name.endswith("member-" + host + ".pem"):
                data += (pki / f"etcd/peer-{host}.key").read_bytes()  # a combined cert+key file
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o600 if b"PRIVATE KEY" in data else 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest_asyncio.fixture(loop_scope="session")
async def host_with_certs(
    lease: LeaseHosts, tmp_path: Path
) -> AsyncIterator[tuple[str, Path, Path]]:
    """(host name, cluster file, local PKI) with the PKI's files placed on a leased host."""
    hosts = lease(1)
    name = hosts[0].name
    for path in PLACED:
        code, _, _ = await hosts.exec(name, f"test ! -e {path}")
        assert code == 0, f"{name} already has {path}; this test owns that host's copy"
    cluster_file = cluster_for(hosts, tmp_path)
    pki = generate_pki(
        load_config(cluster_file), tmp_path / "pki", options=PkiOptions(key_type="ecdsa")
    ).directory
    try:
        code, _, err = await hosts.exec(
            name, "tar -x -C / -f - --no-same-owner", stdin=host_files(pki, name)
        )
        assert code == 0, err
        yield name, cluster_file, pki
    finally:
        code, _, err = await hosts.exec(name, "rm -rf " + " ".join(PLACED))
        assert code == 0, err


def test_remote_check_reads_the_host_and_reports_the_unreachable_one(
    host_with_certs: tuple[str, Path, Path],
) -> None:
    name, cluster_file, pki = host_with_certs
    done = kubexms_certs(
        "check-expiration", "-f", str(cluster_file), "--dir", str(pki), "--remote", "-o", "json"
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert list(data["unreachable"]) == ["ghost"]
    assert "refused" in data["unreachable"]["ghost"]
    assert data["unreachable"]["ghost"].startswith("unreachable: ")
    assert "could not read 1 of 2 hosts" in done.stderr
    assert "Traceback" not in done.stderr

    on_host = {c["name"]: c for c in data["certificates"] if c["location"] == name}
    assert {n: (c["authority"], c["subject"]) for n, c in on_host.items()} == {
        "ca": ("self-signed", "kubernetes-ca"),
        "etcd/ca": ("self-signed", "etcd-ca"),
        "ssl/ca": ("self-signed", "etcd-ca"),
        "apiserver": ("ca", "kube-apiserver"),
        "front-proxy-client": ("front-proxy-ca", "front-proxy-client"),
        "etcd/server": ("etcd/ca", name),
        f"ssl/member-{name}": ("etcd/ca", name),
        "admin.conf": ("ca", "kubernetes-admin"),
    }
    assert on_host["apiserver"]["path"] == "/etc/kubernetes/pki/apiserver.crt"
    local = {c.name: c for c in local_expirations(pki)}
    assert on_host["apiserver"]["expires"] == local["apiserver"].expires.isoformat()
    assert on_host["etcd/server"]["expires"] == local[f"etcd/server-{name}"].expires.isoformat()
    assert on_host["ca"]["days_left"] == local["ca"].days_left
    assert len([c for c in data["certificates"] if c["location"] == "local"]) == len(local)
    # Nothing secret came back: not the keys' text, nor any of their base64 lines.
    for key in pki.rglob("*.key"):
        for line in key.read_text().splitlines()[1:-1]:
            assert line not in done.stdout
    assert "PRIVATE KEY" not in done.stdout


def test_remote_check_of_one_named_host_as_a_table(host_with_certs: tuple[str, Path, Path]) -> None:
    name, cluster_file, pki = host_with_certs
    done = kubexms_certs(
        "check-expiration", "-f", str(cluster_file), "--dir", str(pki), "--hosts", name
    )
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("│")]
    host_rows = [row for row in rows if row.rstrip("│ ").endswith(name)]
    assert len(host_rows) == 8
    assert any("│ apiserver " in row and "│ ca " in row for row in host_rows)
    assert not [row for row in rows if row.rstrip("│ ").endswith("ghost")]
    assert "could not read" not in done.stderr  # only the named host was asked
    assert "PRIVATE KEY" not in done.stdout
