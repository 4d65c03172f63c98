"""keyType ecdsa: P-256 keys everywhere new, usages right for EC keys, openssl still agrees."""

from __future__ import annotations

from pathlib import Path

from kubexms.pki import Action, PkiOptions, generate_pki

from .support import copy_pki, make_cluster, openssl, openssl_verify, openssl_view

ECDSA = PkiOptions(key_type="ecdsa")


def test_ecdsa_pki_verifies_with_ec_keys_and_no_key_encipherment(tmp_path: Path) -> None:
    directory = tmp_path / "pki"
    report = generate_pki(make_cluster(), directory, options=ECDSA)
    assert {entry.action for entry in report.entries} == {Action.created}
    for key in directory.rglob("*.key"):
        assert key.read_text().startswith("-----BEGIN EC PRIVATE KEY-----"), key
        details = openssl("pkey", "-in", key, "-noout", "-text")
        assert "ASN1 OID: prime256v1" in details.stdout, key
    openssl_verify(directory / "ca.crt", directory / "apiserver.crt", "sslserver")
    openssl_verify(directory / "etcd/ca.crt", directory / "etcd/peer-node2.crt", "sslclient")
    openssl_verify(directory / "etcd/ca.crt", directory / "etcd/peer-node2.crt", "sslserver")
    openssl_verify(directory / "front-proxy-ca.crt", directory / "front-proxy-client.crt")
    assert openssl_view(directory / "apiserver.crt").key_usage == {"Digital Signature"}
    assert openssl_view(directory / "ca.crt").key_usage == {"Digital Signature", "Certificate Sign"}
    assert "BEGIN PUBLIC KEY" in (directory / "sa.pub").read_text()
    again = generate_pki(make_cluster(), directory, options=ECDSA)
    assert {entry.action for entry in again.entries} == {Action.kept}


def test_switching_to_ecdsa_rekeys_leaves_but_keeps_cas(pki_dir: Path, tmp_path: Path) -> None:
    directory = copy_pki(pki_dir, tmp_path / "pki")
    report = generate_pki(make_cluster(), directory, options=ECDSA)
    kept = sorted(entry.name for entry in report.with_action(Action.kept))
    assert kept == ["ca", "etcd/ca", "front-proxy-ca", "sa"]
    assert report.entry("apiserver").reasons == ("its key is rsa and keyType is ecdsa",)
    assert (directory / "apiserver.key").read_text().startswith("-----BEGIN EC PRIVATE KEY")
    # An EC leaf under the RSA CA still verifies.
    openssl_verify(directory / "ca.crt", directory / "apiserver.crt", "sslserver")
