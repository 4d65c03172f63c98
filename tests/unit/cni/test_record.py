"""An existing cluster's network cannot change: what it was created with is recorded in the
work dir, and a cluster file that differs is refused with the field's path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kubexms.cni import (
    NetworkRecord,
    NetworkRecordError,
    check_network_unchanged,
    network_change_problems,
)
from kubexms.config import Cluster, ConfigError, parse_config
from tests.unit.config.sample import to_yaml
from tests.unit.kubernetes.sample import cluster_data


def cluster_in(work_dir: Path, network: dict[str, Any] | None = None) -> Cluster:
    data = cluster_data()
    data["spec"]["global"]["workDir"] = str(work_dir)
    if network is not None:
        data["spec"]["network"] = network
    return parse_config(to_yaml(data))


def test_the_record_round_trips_and_is_written_atomically(tmp_path: Path) -> None:
    record = NetworkRecord("calico", "10.233.64.0/18", "10.233.0.0/18")
    record.write(tmp_path / "demo")
    assert NetworkRecord.read(tmp_path / "demo") == record
    assert sorted(p.name for p in (tmp_path / "demo").iterdir()) == ["network.json"]
    assert json.loads((tmp_path / "demo" / "network.json").read_text()) == {
        "plugin": "calico",
        "kubePodsCIDR": "10.233.64.0/18",
        "kubeServiceCIDR": "10.233.0.0/18",
    }


def test_no_record_is_a_cluster_whose_network_was_never_applied(tmp_path: Path) -> None:
    assert NetworkRecord.read(tmp_path) is None
    check_network_unchanged(cluster_in(tmp_path))  # nothing to compare with: no error


@pytest.mark.parametrize("content", ["{", "[]", '{"plugin": "calico"}', ""])
def test_an_unreadable_record_is_an_error_not_a_new_cluster(tmp_path: Path, content: str) -> None:
    (tmp_path / "network.json").write_text(content)
    with pytest.raises(NetworkRecordError, match=r"network.json: cannot read what the cluster"):
        NetworkRecord.read(tmp_path)


def test_the_same_network_passes(tmp_path: Path) -> None:
    cluster = cluster_in(tmp_path)
    NetworkRecord.of(cluster.spec.network).write(tmp_path)
    check_network_unchanged(cluster)


def test_a_pod_cidr_change_is_a_field_path_error(tmp_path: Path) -> None:
    NetworkRecord("calico", "10.233.64.0/18", "10.233.0.0/18").write(tmp_path)
    cluster = cluster_in(tmp_path, {"kubePodsCIDR": "10.100.0.0/16"})
    with pytest.raises(ConfigError) as caught:
        check_network_unchanged(cluster)
    (issue,) = caught.value.issues
    assert issue.path == "spec.network.kubePodsCIDR"
    assert "already use 10.233.64.0/18" in issue.message
    assert "set kubePodsCIDR: 10.233.64.0/18" in issue.message


def test_every_change_is_reported_at_once() -> None:
    recorded = NetworkRecord("flannel", "10.244.0.0/16", "10.96.0.0/12")
    network = cluster_in(Path("/nonexistent")).spec.network  # calico, the defaults
    paths = [".".join(map(str, loc)) for loc, _ in network_change_problems(recorded, network)]
    assert paths == [
        "spec.network.plugin",
        "spec.network.kubePodsCIDR",
        "spec.network.kubeServiceCIDR",
    ]


def test_an_unchanged_network_has_no_problems() -> None:
    network = cluster_in(Path("/nonexistent")).spec.network
    assert network_change_problems(NetworkRecord.of(network), network) == []
