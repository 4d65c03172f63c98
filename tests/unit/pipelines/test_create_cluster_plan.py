"""Planning ``create cluster``: which phases run, limited to what, and the etcd phase's graph.

Planning needs only the cluster file, so these tests connect to nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

from kubexms.config import Cluster, parse_config
from kubexms.engine import ExecutionGraph, PlanError
from kubexms.etcd._config import member_environment, render_member_config
from kubexms.etcd._layout import member_of
from kubexms.pipelines import CreateClusterPipeline, PhaseSelection, PhaseSelectionError
from kubexms.pipelines._create_cluster import PHASES
from tests.unit.config.sample import base, to_yaml


def _cluster(**etcd: Any) -> Cluster:
    data = base()
    data["spec"]["hosts"].append({"name": "node4", "address": "10.213.0.14"})
    data["spec"]["roleGroups"] = {
        "master": ["node1"],
        "etcd": ["node1", "node2", "node3"],
        "worker": ["node4"],
    }
    data["spec"]["etcd"] = {"version": "v3.5.16", **etcd}
    return parse_config(to_yaml(data))


def _plan(
    cluster: Cluster, only: tuple[str, ...] = ("etcd",), skip: tuple[str, ...] = ()
) -> ExecutionGraph:
    return CreateClusterPipeline(PhaseSelection.choose(only, skip)).plan(cluster)


def _hosts(graph: ExecutionGraph, node: str) -> tuple[str, ...]:
    return graph.nodes[f"create-cluster/{node}"].hosts


def test_without_only_every_phase_runs_in_order_in_full() -> None:
    selection = PhaseSelection.choose()
    assert selection.phases == PHASES
    assert len(PHASES) == 12
    assert selection.full == frozenset(PHASES)
    assert selection.phases[-2:] == ("cni", "addons")


def test_only_addons_pulls_in_every_phase_before_it() -> None:
    selection = PhaseSelection.choose(["addons"])
    before = tuple(phase for phase in PHASES if phase != "registry")  # no phase needs it
    assert selection.phases == before
    assert selection.full == frozenset({"addons"})
    assert PhaseSelection.choose(["addons"], ["cni"]).phases == (*before[:-2], "addons")


def test_only_etcd_pulls_in_its_dependencies_limited_to_it() -> None:
    selection = PhaseSelection.choose(["etcd"])
    assert selection.phases == ("preflight", "os", "artifacts", "pki", "etcd")
    assert selection.full == frozenset({"etcd"})
    graph = _plan(_cluster())
    etcd_hosts = ("node1", "node2", "node3")
    # node4 (a worker) is neither checked nor prepared: etcd does not need it.
    assert _hosts(graph, "preflight/checks/ports") == etcd_hosts
    assert _hosts(graph, "os/packages/packages") == etcd_hosts
    assert graph.nodes["create-cluster/artifacts/fetch/fetch"].step.params() == {
        "components": ["etcd"],
        "name": "fetch",
    }
    assert [n for n in graph.nodes if n.startswith("create-cluster/artifacts/place-")] == [
        "create-cluster/artifacts/place-etcd/place"
    ]
    assert _hosts(graph, "artifacts/place-etcd/place") == etcd_hosts
    # Only etcd's certificates (and the client certificate that talks to it) are made.
    assert graph.nodes["create-cluster/pki/generate/generate"].step.params()["only"] == [
        "apiserver-etcd-client",
        "etcd/ca",
        "etcd/healthcheck-client",
        "etcd/peer-node1",
        "etcd/peer-node2",
        "etcd/peer-node3",
        "etcd/server-node1",
        "etcd/server-node2",
        "etcd/server-node3",
    ]


def test_a_named_foundation_phase_runs_in_full() -> None:
    graph = _plan(_cluster(), only=("os",))
    assert [n.split("/")[1] for n in graph.nodes] == ["preflight"] * 6 + ["os"] * (len(graph) - 6)
    assert _hosts(graph, "os/packages/packages") == ("node1", "node2", "node3", "node4")


def test_skip_and_comma_separated_names() -> None:
    selection = PhaseSelection.choose(["pki,etcd"], ["os", "preflight"])
    assert selection.phases == ("artifacts", "pki", "etcd")
    assert selection.full == frozenset({"pki", "etcd"})


@pytest.mark.parametrize(
    ("only", "skip", "message"),
    [
        (["etcd", "kubelet"], [], "unknown phase(s) kubelet"),
        (["etcd"], ["preflight", "os", "artifacts", "pki", "etcd"], "leaves no phase"),
    ],
)
def test_bad_selections_are_refused(only: list[str], skip: list[str], message: str) -> None:
    with pytest.raises(PhaseSelectionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        PhaseSelection.choose(only, skip)


def test_etcd_members_start_together_then_restart_one_after_another() -> None:
    graph = _plan(_cluster())
    deps = graph.dependencies
    prepared = {
        "create-cluster/etcd/binaries/binaries",
        "create-cluster/etcd/data-dir/data-dir",
        "create-cluster/etcd/certificates/certificates",
    }
    services = [f"create-cluster/etcd/service-node{i}/service" for i in (1, 2, 3)]
    for service in services:
        assert set(deps[service]) == prepared  # not after each other: all start at once
    assert set(deps["create-cluster/etcd/cluster/cluster"]) == set(services)
    restarts = [f"create-cluster/etcd/restart-node{i}/restart-etcd" for i in (1, 2, 3)]
    assert set(deps[restarts[0]]) == {"create-cluster/etcd/cluster/cluster"}
    assert set(deps[restarts[1]]) == {restarts[0]}
    assert set(deps[restarts[2]]) == {restarts[1]}
    assert set(deps["create-cluster/etcd/cluster-after-restarts/cluster"]) == {restarts[2]}
    assert [graph.nodes[r].hosts for r in restarts] == [("node1",), ("node2",), ("node3",)]
    backup = "create-cluster/etcd/backup-schedule/no-backup-timer"
    assert set(deps[backup]) == {"create-cluster/etcd/cluster-after-restarts/cluster"}


def test_the_member_configuration_file() -> None:
    cluster = _cluster(
        heartbeatInterval=100,
        electionTimeout=1000,
        quotaBackendBytes=4 * 1024**3,
        autoCompactionRetention="1h",
        snapshotCount=5000,
        extraArgs={"max-request-bytes": 1572864, "log-level": "warn"},
        dataDir="/srv/etcd",
    )
    env = member_environment(cluster, member_of(cluster, "node2"))
    assert env["ETCD_NAME"] == "node2"
    assert env["ETCD_DATA_DIR"] == "/srv/etcd"
    assert env["ETCD_LISTEN_CLIENT_URLS"] == "https://10.213.0.12:2379,https://127.0.0.1:2379"
    assert env["ETCD_ADVERTISE_CLIENT_URLS"] == "https://10.213.0.12:2379"
    assert env["ETCD_LISTEN_PEER_URLS"] == "https://10.213.0.12:2380"
    assert env["ETCD_LISTEN_METRICS_URLS"] == "http://127.0.0.1:2381"
    assert env["ETCD_INITIAL_CLUSTER"] == (
        "node1=https://10.213.0.11:2380,node2=https://10.213.0.12:2380,"
        "node3=https://10.213.0.13:2380"
    )
    assert env["ETCD_INITIAL_CLUSTER_TOKEN"] == "kubexms-demo"
    assert env["ETCD_CLIENT_CERT_AUTH"] == env["ETCD_PEER_CLIENT_CERT_AUTH"] == "true"
    assert env["ETCD_CERT_FILE"] == "/etc/kubernetes/pki/etcd/server.crt"
    assert env["ETCD_PEER_KEY_FILE"] == "/etc/kubernetes/pki/etcd/peer.key"
    assert env["ETCD_HEARTBEAT_INTERVAL"] == "100"
    assert env["ETCD_ELECTION_TIMEOUT"] == "1000"
    assert env["ETCD_QUOTA_BACKEND_BYTES"] == str(4 * 1024**3)
    assert env["ETCD_AUTO_COMPACTION_RETENTION"] == "1h"
    assert env["ETCD_SNAPSHOT_COUNT"] == "5000"
    assert env["ETCD_MAX_REQUEST_BYTES"] == "1572864"
    assert env["ETCD_LOG_LEVEL"] == "warn"
    text = render_member_config(cluster, "node2")
    assert "ETCD_NAME=node2\n" in text
    assert not any("http://" in line for line in text.splitlines() if "METRICS" not in line)


def test_an_older_etcd_is_a_warning_and_a_newer_one_is_refused() -> None:
    older = _cluster(version="v3.4.23")
    warnings = CreateClusterPipeline(PhaseSelection.choose(["etcd"])).warnings(older)
    assert warnings == [
        "etcd v3.4.23 is older than supported (etcd 3.5.x for Kubernetes 1.31-1.34); "
        "it is used as asked"
    ]
    _plan(older)  # still planned
    assert CreateClusterPipeline(PhaseSelection.choose(["etcd"])).warnings(_cluster()) == []
    with pytest.raises(PlanError, match=r"etcd v3\.6\.1 is newer than etcd 3\.5\.x"):
        _plan(_cluster(version="v3.6.1"))


def test_kubeadm_etcd_leaves_the_etcd_phase_to_the_control_plane() -> None:
    data = base()
    data["spec"]["etcd"] = {"type": "kubeadm"}
    graph = _plan(parse_config(to_yaml(data)), only=("control-plane",))
    assert not [n for n in graph.nodes if n.startswith("create-cluster/etcd/")]
    assert "create-cluster/control-plane/init/init" in graph.nodes


def test_external_etcd_installs_nothing_and_checks_from_the_first_master() -> None:
    data = base()
    del data["spec"]["roleGroups"]["etcd"]
    data["spec"]["etcd"] = {
        "type": "external",
        "external": {
            "endpoints": ["https://10.0.0.5:2379", "https://10.0.0.6:2379"],
            "caFile": "/srv/etcd/ca.pem",
            "certFile": "/srv/etcd/client.pem",
            "keyFile": "/srv/etcd/client-key.pem",
        },
    }
    graph = _plan(parse_config(to_yaml(data)))
    etcd_nodes = [n for n in graph.nodes if n.startswith("create-cluster/etcd/")]
    assert etcd_nodes == [
        "create-cluster/etcd/external-files/external-files",
        "create-cluster/etcd/external-endpoints/endpoints",
    ]
    assert not [n for n in graph.nodes if n.startswith("create-cluster/artifacts/")]
    assert not [n for n in graph.nodes if n.startswith("create-cluster/pki/")]
    assert _hosts(graph, "etcd/external-endpoints/endpoints") == ("node1",)
    placed = graph.nodes["create-cluster/etcd/external-files/external-files"].step.params()
    files: list[dict[str, object]] = placed["files"]  # type: ignore[assignment]
    assert {f["dest"]: f["mode"] for f in files} == {
        "/etc/kubernetes/pki/etcd/ca.crt": 0o644,
        "/etc/kubernetes/pki/apiserver-etcd-client.crt": 0o644,
        "/etc/kubernetes/pki/apiserver-etcd-client.key": 0o600,
    }
