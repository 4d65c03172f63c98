"""generate_pki(only=...): the named items and their CAs, nothing else made or examined."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubexms.pki import Action, PkiError, PkiOptions, generate_pki

from .support import make_cluster, openssl_verify

FAST = PkiOptions(key_type="ecdsa")


def test_only_the_named_items_and_their_issuers(tmp_path: Path) -> None:
    cluster = make_cluster()
    wanted = {"etcd/healthcheck-client", "apiserver-etcd-client", "etcd/server-node1"}
    report = generate_pki(cluster, tmp_path, options=FAST, only=wanted)
    assert {entry.name for entry in report.entries} == wanted | {"etcd/ca"}
    made = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.*"))
    assert "ca.crt" not in made
    assert "sa.key" not in made
    assert not [name for name in made if name.startswith("kubeconfig/")]
    openssl_verify(tmp_path / "etcd/ca.crt", tmp_path / "etcd/server-node1.crt")
    # The whole PKI later keeps what was made and adds the rest.
    whole = generate_pki(cluster, tmp_path, options=FAST)
    kept = {entry.name for entry in whole.with_action(Action.kept)}
    assert kept == wanted | {"etcd/ca"}


def test_an_unknown_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PkiError, match="has no etcd/server-nowhere"):
        generate_pki(make_cluster(), tmp_path, options=FAST, only={"etcd/server-nowhere"})
