"""Which cluster a data dir belongs to: etcd's own id scheme, checked against a real etcd."""

from __future__ import annotations

from kubexms.etcd import EtcdMember
from kubexms.etcd._cluster_id import cluster_id, format_id, member_id, wal_cluster_id

# The first 54 bytes of the WAL of a one-member etcd 3.4.23 started as
#   --name a --initial-advertise-peer-urls http://127.0.0.1:23800 --initial-cluster-token kubexms-x
# whose `etcdctl endpoint status -w json` said cluster_id 3522046201885188093 and member_id
# 2439119148732072804.
WAL_HEAD = bytes.fromhex(
    "040000000000008408041000000000001e0000000000008208011080a097f9091a14"
    "08e4869dc895bedfec2110fdbf85cfc2cbb4f030"
)


class _PeerAt(EtcdMember):
    @property
    def peer_url(self) -> str:
        return f"http://{self.address}:23800"


def test_ids_are_computed_as_etcd_computes_them() -> None:
    assert member_id(["http://127.0.0.1:23800"], "kubexms-x") == 2439119148732072804
    assert cluster_id([_PeerAt("a", "127.0.0.1")], "kubexms-x") == 3522046201885188093


def test_the_wal_names_its_cluster() -> None:
    assert wal_cluster_id(WAL_HEAD) == 3522046201885188093
    assert format_id(3522046201885188093) == "30e0d25c29e15ffd"


def test_a_token_or_peer_change_is_another_cluster() -> None:
    members = [EtcdMember("node1", "10.0.0.1"), EtcdMember("node2", "10.0.0.2")]
    base = cluster_id(members, "kubexms-demo")
    assert cluster_id(list(reversed(members)), "kubexms-demo") == base
    assert cluster_id(members, "kubexms-other") != base
    assert cluster_id(members[:1], "kubexms-demo") != base


def test_unreadable_wal_heads_give_no_id() -> None:
    assert wal_cluster_id(b"") is None
    assert wal_cluster_id(WAL_HEAD[:20]) is None
    assert wal_cluster_id(b"\x00" * 64) is None
