"""PlacePKIFiles against a real shell: modes by kind, atomic writes of what differs only,
per-host sources, and no content in params."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kubexms.runtime import Context
from kubexms.steps import PKIFile, PKIFileError, PlacePKIFiles, kubeadm_layout
from tests.unit.runner.fakes import ShellConnector
from tests.unit.steps.local import local_cluster, local_context

SECRET = b"-----BEGIN PRIVATE KEY-----\nsecret-key-material\n-----END PRIVATE KEY-----\n"


@pytest.fixture
async def ctx(tmp_path: Path) -> Context:
    pki = tmp_path / "work" / "pki"
    (pki / "etcd").mkdir(parents=True)
    (pki / "kubeconfig").mkdir()
    (pki / "etcd" / "ca.crt").write_bytes(b"etcd ca cert")
    (pki / "etcd" / "server-node1.crt").write_bytes(b"node1 server cert")
    (pki / "etcd" / "server-node1.key").write_bytes(SECRET)
    (pki / "kubeconfig" / "admin.conf").write_bytes(b"kubeconfig with client-key-data")
    _, context = await local_context(local_cluster(tmp_path / "work"))
    return context


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o7777


def _step(host_dir: Path) -> PlacePKIFiles:
    return PlacePKIFiles(
        (
            PKIFile("etcd/ca.crt", f"{host_dir}/pki/etcd/ca.crt"),
            PKIFile("etcd/server-{host}.crt", f"{host_dir}/pki/etcd/server.crt"),
            PKIFile("etcd/server-{host}.key", f"{host_dir}/pki/etcd/server.key"),
            PKIFile("kubeconfig/admin.conf", f"{host_dir}/admin.conf"),
        )
    )


async def test_files_land_with_modes_by_kind(ctx: Context, tmp_path: Path) -> None:
    host = tmp_path / "host"
    step = _step(host)
    pending = await step.precheck(ctx)
    assert pending.changed
    assert "server.key" in pending.detail
    change = await step.run(ctx)
    assert change.changed
    assert (host / "pki/etcd/server.crt").read_bytes() == b"node1 server cert"
    assert (host / "pki/etcd/server.key").read_bytes() == SECRET
    assert _mode(host / "pki/etcd/ca.crt") == 0o644
    assert _mode(host / "pki/etcd/server.key") == 0o600
    assert _mode(host / "admin.conf") == 0o600
    assert not (await step.precheck(ctx)).changed
    assert not (await step.run(ctx)).changed


async def test_only_what_differs_is_written(ctx: Context, tmp_path: Path) -> None:
    host = tmp_path / "host"
    step = _step(host)
    await step.run(ctx)
    (host / "pki/etcd/ca.crt").write_bytes(b"stale")
    (host / "pki/etcd/server.key").chmod(0o644)
    connector = ctx.runner.connector
    assert isinstance(connector, ShellConnector)
    connector.calls.clear()
    change = await step.run(ctx)
    assert change.changed
    assert change.detail == f"wrote {host}/pki/etcd/ca.crt, {host}/pki/etcd/server.key"
    assert (host / "pki/etcd/ca.crt").read_bytes() == b"etcd ca cert"
    assert _mode(host / "pki/etcd/server.key") == 0o600
    # Secrets travel on stdin, never on a command line.
    assert not any(b"secret-key-material" in call.command.encode() for call in connector.calls)


async def test_a_missing_source_names_the_file_and_what_to_do(ctx: Context, tmp_path: Path) -> None:
    step = PlacePKIFiles((PKIFile("etcd/peer-{host}.crt", f"{tmp_path}/peer.crt"),))
    with pytest.raises(PKIFileError, match=r"peer-node1\.crt is not in the cluster PKI.*certs"):
        await step.run(ctx)
    # A dry run before the pki phase made it: it would be written, not an error.
    pending = await step.precheck(ctx)
    assert pending.changed
    assert "not in the cluster PKI yet" in pending.detail


def test_params_hold_paths_never_contents(tmp_path: Path) -> None:
    step = _step(tmp_path)
    text = json.dumps(step.params())
    assert "etcd/server-{host}.key" in text
    assert "secret" not in text
    assert step.name == "pki-files"


def test_declaration_errors() -> None:
    with pytest.raises(ValueError, match="relative"):
        PKIFile("/etc/kubernetes/pki/ca.crt", "/etc/ca.crt")
    with pytest.raises(ValueError, match="relative"):
        PKIFile("../secrets", "/etc/x")
    with pytest.raises(ValueError, match="twice"):
        PlacePKIFiles((PKIFile("a.crt", "/x"), PKIFile("b.crt", "/x")))
    with pytest.raises(ValueError, match="at least one"):
        PlacePKIFiles(())


def test_kubeadm_layout() -> None:
    files = kubeadm_layout(("ca", "etcd/ca"))
    assert [(f.source, f.dest, f.wanted_mode) for f in files] == [
        ("ca.crt", "/etc/kubernetes/pki/ca.crt", 0o644),
        ("ca.key", "/etc/kubernetes/pki/ca.key", 0o600),
        ("etcd/ca.crt", "/etc/kubernetes/pki/etcd/ca.crt", 0o644),
        ("etcd/ca.key", "/etc/kubernetes/pki/etcd/ca.key", 0o600),
    ]
