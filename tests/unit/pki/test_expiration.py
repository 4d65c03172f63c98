"""When certificates expire: in the local PKI, and on a host read through a real Runner."""

from __future__ import annotations

import base64
import datetime as dt
import shutil
from pathlib import Path

import pytest

from kubexms.connector import LocalConnector
from kubexms.pki import (
    PkiReport,
    host_expirations,
    host_scan_script,
    local_authorities,
    local_expirations,
    parse_kubeconfig,
)
from kubexms.runner import Runner


def test_local_expirations_name_each_certificate_and_its_ca(generated: PkiReport) -> None:
    found = local_expirations(generated.directory)
    by_name = {item.name: item for item in found}
    assert [item.name for item in found[:3]] == ["ca", "etcd/ca", "front-proxy-ca"]
    assert len(found) == 3 + 11 + 8  # CAs, certificates, kubeconfigs
    assert {by_name[name].authority for name in ("ca", "etcd/ca", "front-proxy-ca")} == {
        "self-signed"
    }
    assert by_name["apiserver"].authority == "ca"
    assert by_name["etcd/peer-node3"].authority == "etcd/ca"
    assert by_name["front-proxy-client"].authority == "front-proxy-ca"
    admin = by_name["kubeconfig/admin.conf"]
    assert (admin.authority, admin.subject, admin.location) == ("ca", "kubernetes-admin", "local")
    assert by_name["ca"].days_left == 3649
    assert by_name["apiserver"].days_left == 364
    for item in found:
        entry = generated.entry("sa" if item.name == "sa" else item.name)
        assert entry.expires == item.expires


def test_days_left_counts_down_and_goes_negative(generated: PkiReport) -> None:
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=400)
    found = {item.name: item for item in local_expirations(generated.directory, now=later)}
    assert found["apiserver"].days_left == -36
    assert found["ca"].days_left == 3249


@pytest.fixture
def fake_host(generated: PkiReport, tmp_path: Path) -> dict[str, Path]:
    """A host-like tree: kubeadm's pki, an etcd dir with combined cert+key PEMs, a kubeconfig."""
    source = generated.directory
    etc = tmp_path / "etc kubernetes"
    pki = etc / "pki"
    (pki / "etcd").mkdir(parents=True)
    for name in ("ca.crt", "ca.key", "apiserver.crt", "apiserver.key", "etcd/ca.crt"):
        shutil.copy(source / name, pki / name)
    shutil.copy(source / "etcd/server-node1.crt", pki / "etcd/server.crt")
    shutil.copy(source / "etcd/server-node1.key", pki / "etcd/server.key")
    (pki / "broken.crt").write_text("-----BEGIN CERTIFICATE-----\nnot base64!\n")
    ssl = tmp_path / "ssl etcd" / "ssl"
    ssl.mkdir(parents=True)
    combined = (source / "etcd/peer-node1.key").read_bytes() + (
        source / "etcd/peer-node1.crt"
    ).read_bytes()
    (ssl / "member-node1.pem").write_bytes(combined)
    shutil.copy(source / "etcd/ca.crt", ssl / "ca.pem")
    shutil.copy(source / "etcd/ca.key", ssl / "ca-key.pem")
    shutil.copy(source / "kubeconfig/admin.conf", etc / "admin.conf")
    (etc / "notes.conf").write_text("nothing here\n")
    return {"etc": etc, "pki": pki, "ssl": ssl.parent, "missing": tmp_path / "nope"}


async def test_host_certificates_read_through_the_runner(
    generated: PkiReport, fake_host: dict[str, Path]
) -> None:
    runner = Runner(LocalConnector("host-a"))
    directories = [str(fake_host[key]) for key in ("pki", "ssl", "missing")]
    found = await host_expirations(
        runner,
        authorities=local_authorities(generated.directory),
        directories=directories,
        kubeconfig_directory=str(fake_host["etc"]),
    )
    summary = {(item.name, item.authority, item.subject) for item in found}
    assert summary == {
        ("ca", "self-signed", "kubernetes-ca"),
        ("etcd/ca", "self-signed", "etcd-ca"),
        ("ssl/ca", "self-signed", "etcd-ca"),
        ("apiserver", "ca", "kube-apiserver"),
        ("etcd/server", "etcd/ca", "node1"),
        ("ssl/member-node1", "etcd/ca", "node1"),
        ("admin.conf", "ca", "kubernetes-admin"),
    }
    assert all(item.location == "host-a" for item in found)
    assert [item.is_ca for item in found] == [True] * 3 + [False] * 4
    local = {item.name: item for item in local_expirations(generated.directory)}
    by_name = {item.name: item for item in found}
    assert by_name["apiserver"].expires == local["apiserver"].expires
    assert by_name["ssl/member-node1"].path == str(fake_host["ssl"] / "ssl/member-node1.pem")


async def test_no_private_key_leaves_the_host(fake_host: dict[str, Path]) -> None:
    runner = Runner(LocalConnector("host-a"))
    script = host_scan_script([str(fake_host["pki"]), str(fake_host["ssl"])], str(fake_host["etc"]))
    output = (await runner.script(script)).stdout
    assert output.count("@kxms-pki cert ") == 7  # broken.crt too; its parse fails later
    assert output.count("@kxms-pki conf ") == 1
    for line in output.splitlines():
        for field in line.split()[2:]:
            assert b"PRIVATE KEY" not in base64.b64decode(field)
    key_data = parse_kubeconfig((fake_host["etc"] / "admin.conf").read_bytes()).key_pem
    assert base64.b64encode(key_data).decode() not in output


def test_scan_script_refuses_relative_paths() -> None:
    with pytest.raises(ValueError, match="is not an absolute path"):
        host_scan_script(["etc/kubernetes/pki"], "/etc/kubernetes")


def test_an_empty_or_missing_directory_has_no_certificates(tmp_path: Path) -> None:
    assert local_expirations(tmp_path) == []
    assert local_expirations(tmp_path / "does-not-exist") == []
