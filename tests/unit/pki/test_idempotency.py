"""A second run keeps all; each kind of drift regenerates only what it touches, saying why."""

from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path

from kubexms.pki import Action, PkiOptions, PkiReport, generate_pki

from .support import cluster_document, copy_pki, make_cluster, openssl_verify

# The renewal tests make whole PKIs twice; P-256 keys keep them fast and the logic is the same.
FAST = PkiOptions(key_type="ecdsa")

KUBECONFIGS_ON_ENDPOINT = [
    "kubeconfig/admin.conf",
    "kubeconfig/super-admin.conf",
    *(f"kubeconfig/kubelet-node{i}.conf" for i in range(1, 5)),
]


def regenerated(report: PkiReport) -> dict[str, tuple[str, ...]]:
    return {entry.name: entry.reasons for entry in report.with_action(Action.regenerated)}


def fingerprints(directory: Path) -> dict[str, bytes]:
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in directory.rglob("*.*")}


def test_second_run_keeps_every_file_byte_for_byte(pki_dir: Path, tmp_path: Path) -> None:
    directory = copy_pki(pki_dir, tmp_path / "pki")
    before = fingerprints(directory)
    report = generate_pki(make_cluster(), directory)
    assert {entry.action for entry in report.entries} == {Action.kept}
    assert all(not entry.reasons and not entry.notes for entry in report.entries)
    assert fingerprints(directory) == before


def test_a_new_extra_san_regenerates_only_the_apiserver_and_says_which(
    pki_dir: Path, tmp_path: Path
) -> None:
    directory = copy_pki(pki_dir, tmp_path / "pki")
    document = cluster_document()
    sans = document["spec"]["kubernetes"]["apiServer"]["certSANs"]
    sans.remove("203.0.113.7")
    sans.append("k8s.new.example")
    report = generate_pki(make_cluster(document), directory)
    assert list(regenerated(report)) == ["apiserver"]
    (reason,) = report.entry("apiserver").reasons
    assert reason == (
        "SANs no longer match the config: it adds DNS:k8s.new.example and drops IP:203.0.113.7"
    )
    assert report.with_action(Action.created) == []
    openssl_verify(directory / "ca.crt", directory / "apiserver.crt", "sslserver")


def test_a_new_endpoint_regenerates_what_names_it(pki_dir: Path, tmp_path: Path) -> None:
    directory = copy_pki(pki_dir, tmp_path / "pki")
    document = cluster_document()
    document["spec"]["controlPlaneEndpoint"]["domain"] = "api.cluster.internal"
    report = generate_pki(make_cluster(document), directory)
    changed = regenerated(report)
    assert sorted(changed) == sorted(["apiserver", *KUBECONFIGS_ON_ENDPOINT])
    assert "adds DNS:api.cluster.internal and drops DNS:lb.kubexms.local" in changed["apiserver"][0]
    assert changed["kubeconfig/admin.conf"] == (
        "its server is https://lb.kubexms.local:6443, "
        "the config says https://api.cluster.internal:6443",
    )
    # controller-manager and scheduler talk to their own master's API server: untouched.
    assert report.entry("kubeconfig/scheduler.conf").action is Action.kept


def test_expiring_certificates_are_renewed_and_cas_kept(tmp_path: Path) -> None:
    cluster = make_cluster()
    directory = tmp_path / "pki"
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=345)
    generate_pki(cluster, directory, options=FAST, now=long_ago)  # leaves expire in ~20 days
    report = generate_pki(cluster, directory, options=FAST)
    changed = regenerated(report)
    kept = [entry.name for entry in report.with_action(Action.kept)]
    assert sorted(kept) == ["ca", "etcd/ca", "front-proxy-ca", "sa"]
    assert len(changed) == len(report.entries) - 4
    expires = (long_ago + dt.timedelta(days=365)).strftime("%Y-%m-%d")
    for reasons in changed.values():
        assert len(reasons) == 1
        assert reasons[0].startswith(f"expires on {expires}, in 1")
        assert reasons[0].endswith("days, within the 30-day renewal threshold")
    for entry in report.with_action(Action.regenerated):
        assert entry.expires is not None
        assert entry.expires > dt.datetime.now(dt.UTC) + dt.timedelta(days=364)
    again = generate_pki(cluster, directory, options=FAST)
    assert {entry.action for entry in again.entries} == {Action.kept}


def test_an_expired_certificate_is_renewed(tmp_path: Path) -> None:
    cluster = make_cluster()
    directory = tmp_path / "pki"
    generate_pki(
        cluster, directory, options=FAST, now=dt.datetime.now(dt.UTC) - dt.timedelta(days=400)
    )
    report = generate_pki(cluster, directory, options=FAST)
    assert report.entry("apiserver").reasons[0].startswith("expired on ")


def test_a_replaced_ca_regenerates_everything_it_signed(pki_dir: Path, tmp_path: Path) -> None:
    directory = copy_pki(pki_dir, tmp_path / "pki")
    (directory / "etcd" / "ca.crt").unlink()
    (directory / "etcd" / "ca.key").unlink()
    report = generate_pki(make_cluster(), directory)
    assert [entry.name for entry in report.with_action(Action.created)] == ["etcd/ca"]
    changed = regenerated(report)
    assert sorted(changed) == sorted(
        ["apiserver-etcd-client", "etcd/healthcheck-client"]
        + [f"etcd/{kind}-node{i}" for i in (1, 2, 3) for kind in ("server", "peer")]
    )
    for reasons in changed.values():
        assert reasons == ("the issuing CA changed: the current CN=etcd-ca did not sign it",)
    for name in changed:
        openssl_verify(directory / "etcd" / "ca.crt", directory / f"{name}.crt", "sslclient")


def test_half_a_pair_or_a_wrong_key_is_repaired(pki_dir: Path, tmp_path: Path) -> None:
    directory = copy_pki(pki_dir, tmp_path / "pki")
    (directory / "front-proxy-client.key").unlink()
    os.replace(directory / "apiserver-kubelet-client.key", directory / "apiserver.key")
    (directory / "apiserver-kubelet-client.key").write_bytes(b"not a key")
    (directory / "kubeconfig" / "scheduler.conf").write_text("apiVersion: v1\nkind: Config\n")
    report = generate_pki(make_cluster(), directory)
    changed = regenerated(report)
    assert sorted(changed) == [
        "apiserver",
        "apiserver-kubelet-client",
        "front-proxy-client",
        "kubeconfig/scheduler.conf",
    ]
    assert changed["apiserver"] == ("the private key does not match the certificate",)
    (reason,) = changed["apiserver-kubelet-client"]
    assert reason.startswith("apiserver-kubelet-client.key is not a readable unencrypted PEM")
    assert changed["front-proxy-client"] == ("front-proxy-client.key is missing",)
    assert changed["kubeconfig/scheduler.conf"] == (
        "it is not a usable kubeconfig: no current-context",
    )
    assert {e.action for e in generate_pki(make_cluster(), directory).entries} == {Action.kept}


def test_a_loose_key_mode_is_tightened_and_reported(pki_dir: Path, tmp_path: Path) -> None:
    directory = copy_pki(pki_dir, tmp_path / "pki")
    (directory / "ca.key").chmod(0o644)
    (directory / "kubeconfig" / "admin.conf").chmod(0o640)
    (directory / "sa.pub").unlink()
    report = generate_pki(make_cluster(), directory)
    assert {entry.action for entry in report.entries} == {Action.kept}
    assert report.entry("ca").notes == ("ca.key mode was 0644, set to 0600",)
    assert report.entry("kubeconfig/admin.conf").notes == ("admin.conf mode was 0640, set to 0600",)
    assert report.entry("sa").notes == ("sa.pub was missing",)
    assert stat.S_IMODE((directory / "ca.key").stat().st_mode) == 0o600
    assert (directory / "sa.pub").read_bytes() == (pki_dir / "sa.pub").read_bytes()


def test_a_removed_host_keeps_the_rest_and_a_new_one_gets_its_files(
    pki_dir: Path, tmp_path: Path
) -> None:
    directory = copy_pki(pki_dir, tmp_path / "pki")
    document = cluster_document()
    document["spec"]["hosts"].append({"name": "node5", "address": "10.213.0.15"})
    document["spec"]["roleGroups"]["worker"].append("node5")
    report = generate_pki(make_cluster(document), directory)
    assert [e.name for e in report.with_action(Action.created)] == ["kubeconfig/kubelet-node5.conf"]
    assert regenerated(report) == {}
