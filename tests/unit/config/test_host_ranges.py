"""Host ranges in role groups."""

from __future__ import annotations

import pytest

from kubexms.config import expand_host_pattern, parse_config

from .sample import base, to_yaml


@pytest.mark.parametrize(
    ("pattern", "names"),
    [
        ("node1", ["node1"]),
        ("node[1:3]", ["node1", "node2", "node3"]),
        ("node[01:03]", ["node01", "node02", "node03"]),
        ("node[08:11]", ["node08", "node09", "node10", "node11"]),
        ("node[001:002]", ["node001", "node002"]),
        ("node[9:10]", ["node9", "node10"]),
        ("node[0:1]", ["node0", "node1"]),
        ("node[5:5]", ["node5"]),
        ("web[1:2].example", ["web1.example", "web2.example"]),
        ("web[1:2]-a", ["web1-a", "web2-a"]),
        ("[1:2]x", ["1x", "2x"]),
        ("r[1:2]-n[1:2]", ["r1-n1", "r1-n2", "r2-n1", "r2-n2"]),
    ],
)
def test_expansion(pattern: str, names: list[str]) -> None:
    assert expand_host_pattern(pattern) == names


@pytest.mark.parametrize(
    ("pattern", "fragment"),
    [
        ("node[3:1]", "counts down"),
        ("node[a:c]", "malformed range"),
        ("node[1-3]", "malformed range"),
        ("node[1:3", "malformed range"),
        ("node1:3]", "malformed range"),
        ("node[1:2][", "malformed range"),
        ("node[1:100000]", "more than 10000"),
        ("a[1:1000]b[1:1000]", "more than 10000"),
    ],
)
def test_malformed_ranges(pattern: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        expand_host_pattern(pattern)


def test_ranges_assign_roles_to_padded_names() -> None:
    data = base()
    data["spec"]["hosts"] = [
        {"name": f"node{number:02d}", "address": f"10.213.0.{number}"} for number in range(1, 11)
    ]
    data["spec"]["roleGroups"] = {
        "master": ["node01"],
        "etcd": ["node01"],
        "worker": ["node[02:04]", "node[05:10]"],
    }
    cluster = parse_config(to_yaml(data))
    workers = [host.name for host in cluster.hosts_with_role("worker")]
    assert workers == [f"node{number:02d}" for number in range(2, 11)]
    assert cluster.spec.role_groups.members("worker") == workers
    # The file keeps the ranges as written.
    assert cluster.spec.role_groups.worker == ["node[02:04]", "node[05:10]"]


def test_unpadded_range_does_not_match_padded_names() -> None:
    data = base()
    data["spec"]["hosts"][1]["name"] = "node02"
    data["spec"]["roleGroups"]["worker"] = ["node[2:3]"]
    text = to_yaml(data)
    with pytest.raises(Exception, match=r"spec.roleGroups.worker\[0\]: 'node\[2:3\]' includes"):
        parse_config(text)


def test_several_ranges_and_names_in_one_list() -> None:
    data = base()
    data["spec"]["hosts"] += [
        {"name": f"node{number}", "address": f"10.213.0.{10 + number}"} for number in range(4, 8)
    ]
    data["spec"]["roleGroups"]["worker"] = ["node[2:3]", "node4", "node[5:7]"]
    cluster = parse_config(to_yaml(data))
    assert [host.name for host in cluster.hosts_with_role("worker")] == [
        f"node{number}" for number in range(2, 8)
    ]
