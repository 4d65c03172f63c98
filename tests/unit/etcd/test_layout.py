"""Where etcd lives on a host and how its members are named: what every etcd command shares."""

from __future__ import annotations

import subprocess

import kubexms.etcd
from kubexms.config import Cluster, parse_config
from kubexms.etcd import (
    client_endpoints,
    cluster_token,
    etcdctl_command,
    initial_cluster,
    member_of,
    members,
    pki_files,
)
from kubexms.etcd._layout import etcdctl_environment, render_environment
from tests.unit.config.sample import base, to_yaml


def _cluster(etcd_hosts: list[str], etcd: dict[str, object] | None = None) -> Cluster:
    data = base()
    data["spec"]["hosts"][2]["internalAddress"] = "fd00::13"
    # Listed out of config order on purpose: members follow the order of spec.hosts.
    data["spec"]["roleGroups"]["etcd"] = etcd_hosts
    if etcd is not None:
        data["spec"]["etcd"] = etcd
    return parse_config(to_yaml(data))


def test_members_follow_config_order_and_internal_addresses() -> None:
    cluster = _cluster(["node3", "node1", "node2"])
    assert [m.name for m in members(cluster)] == ["node1", "node2", "node3"]
    assert initial_cluster(cluster) == (
        "node1=https://10.213.0.11:2380,node2=https://10.213.0.12:2380,"
        "node3=https://[fd00::13]:2380"
    )
    node3 = member_of(cluster, "node3")
    assert node3.listen_client_urls == "https://[fd00::13]:2379,https://127.0.0.1:2379"
    assert node3.metrics_url == "http://127.0.0.1:2381"
    assert cluster_token(cluster) == "kubexms-demo"
    assert client_endpoints(cluster)[0] == "https://10.213.0.11:2379"


def test_external_endpoints_are_the_users() -> None:
    cluster = _cluster(
        [], {"type": "external", "external": {"endpoints": ["https://10.0.0.5:2379"]}}
    )
    assert members(cluster) == []
    assert client_endpoints(cluster) == ["https://10.0.0.5:2379"]


def test_pki_files_map_kubeadm_names_to_the_per_host_store_names() -> None:
    files = pki_files("node2")
    assert files["/etc/kubernetes/pki/etcd/server.key"] == "etcd/server-node2.key"
    assert files["/etc/kubernetes/pki/etcd/peer.crt"] == "etcd/peer-node2.crt"
    assert files["/etc/kubernetes/pki/etcd/ca.crt"] == "etcd/ca.crt"
    assert "etcd/ca.key" not in files.values()  # the CA key never leaves the control machine


def test_etcdctl_env_is_read_by_sh() -> None:
    text = render_environment({**etcdctl_environment(), "ODD": "a b'c$d"})
    out = subprocess.run(
        ["sh", "-c", f"set -a; {text.replace(chr(10), '; ')} set +a; env"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "ETCDCTL_ENDPOINTS=https://127.0.0.1:2379\n" in out
    assert "ODD=a b'c$d\n" in out
    assert etcdctl_command("member list").endswith("/usr/local/bin/etcdctl member list")


def test_public_api() -> None:
    assert kubexms.etcd.__all__ == sorted(kubexms.etcd.__all__, key=lambda n: (not n.isupper(), n))
