"""The PKI each master gets before kubeadm runs: every source exists in a generated PKI, the
destinations are kubeadm's, and the files a join refuses go to the first master only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kubexms.kubernetes._pki_files import master_pki_files
from kubexms.pki import PkiOptions, generate_pki
from tests.unit.kubernetes.sample import make_cluster

ETCD_TYPES: dict[str, dict[str, Any]] = {
    "kubexm": {},
    "kubeadm": {"type": "kubeadm"},
    "external": {
        "type": "external",
        "external": {"endpoints": ["https://10.0.0.5:2379"]},
    },
}


@pytest.mark.parametrize("etcd", sorted(ETCD_TYPES))
def test_every_source_is_in_the_generated_pki(etcd: str, tmp_path: Path) -> None:
    cluster = make_cluster(etcd=ETCD_TYPES[etcd])
    generate_pki(cluster, tmp_path, options=PkiOptions(key_type="ecdsa"))
    for master in ("master1", "master2", "master3"):
        for item in master_pki_files(cluster, master):
            assert (tmp_path / item.source_for(master)).is_file(), (master, item.source)


def test_destinations_are_kubeadms_and_modes_keep_secrets_private() -> None:
    cluster = make_cluster(etcd=ETCD_TYPES["kubeadm"])
    first = {item.dest: item for item in master_pki_files(cluster, "master1")}
    assert first["/etc/kubernetes/pki/ca.key"].wanted_mode == 0o600
    assert first["/etc/kubernetes/pki/sa.pub"].wanted_mode == 0o644
    assert first["/etc/kubernetes/kubelet.conf"].source_for("master1") == (
        "kubeconfig/kubelet-master1.conf"
    )
    assert first["/etc/kubernetes/kubelet.conf"].wanted_mode == 0o600
    assert first["/etc/kubernetes/pki/etcd/server.crt"].source_for("master1") == (
        "etcd/server-master1.crt"
    )
    assert "/etc/kubernetes/pki/etcd/ca.key" in first
    # A joining master: kubeadm join refuses an existing kubelet.conf and writes admin.conf.
    second = {item.dest for item in master_pki_files(cluster, "master2")}
    assert set(first) - second == {
        "/etc/kubernetes/admin.conf",
        "/etc/kubernetes/super-admin.conf",
        "/etc/kubernetes/kubelet.conf",
    }


def test_etcd_files_follow_where_etcd_runs() -> None:
    def dests(etcd: str) -> set[str]:
        return {i.dest for i in master_pki_files(make_cluster(etcd=ETCD_TYPES[etcd]), "master2")}

    assert "/etc/kubernetes/pki/apiserver-etcd-client.key" in dests("kubexm")
    assert "/etc/kubernetes/pki/etcd/ca.key" not in dests("kubexm")
    assert "/etc/kubernetes/pki/etcd/server.crt" not in dests("kubexm")
    assert not any("etcd" in dest for dest in dests("external"))


def test_only_masters() -> None:
    with pytest.raises(ValueError, match="worker1 is not a master"):
        master_pki_files(make_cluster(), "worker1")
