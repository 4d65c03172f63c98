"""The control-plane and workers phases (kubeadm mode) as planned: which steps, on which hosts,
in which order, and what they ask of the other phases."""

from __future__ import annotations

import itertools

import pytest

from kubexms.engine import ExecutionGraph, Pipeline, PlanError, Step
from kubexms.kubernetes import (
    ControlPlaneModule,
    WorkersModule,
    control_plane_host_needs,
    workers_host_needs,
)
from kubexms.kubernetes._module import worker_names
from kubexms.pipelines import CreateClusterPipeline, PhaseSelection
from kubexms.steps import PlacePKIFiles
from tests.unit.kubernetes.sample import make_cluster

CP = "create-cluster/control-plane"
WK = "create-cluster/workers"


def _plan(only: tuple[str, ...] = ("workers",), **knobs: object) -> ExecutionGraph:
    return CreateClusterPipeline(PhaseSelection.choose(only)).plan(make_cluster(**knobs))


def _dests(step: Step) -> set[str]:
    assert isinstance(step, PlacePKIFiles)
    return {item.dest for item in step.files}


def _before(graph: ExecutionGraph, earlier: str, later: str) -> bool:
    """Whether ``later`` depends, directly or not, on ``earlier``."""
    pending, seen = [later], set()
    while pending:
        node = pending.pop()
        for dep in graph.dependencies[node]:
            if dep == earlier:
                return True
            if dep not in seen:
                seen.add(dep)
                pending.append(dep)
    return False


def test_init_on_the_first_master_then_masters_join_one_by_one_then_workers() -> None:
    graph = _plan()
    assert graph.nodes[f"{CP}/init/init"].hosts == ("master1",)
    assert graph.nodes[f"{CP}/join-master2/join"].hosts == ("master2",)
    assert graph.nodes[f"{CP}/join-master3/join"].hosts == ("master3",)
    assert graph.nodes[f"{WK}/join/join"].hosts == ("worker1", "worker2")
    assert graph.nodes[f"{CP}/bootstrap-token/bootstrap-token"].hosts == ("master1",)
    order = [
        f"{CP}/membership/membership",
        f"{CP}/pki-first/pki",
        f"{CP}/init/init",
        f"{CP}/bootstrap-token/bootstrap-token",
        f"{CP}/join-master2/join",
        f"{CP}/join-master3/join",
        f"{WK}/bootstrap-token/bootstrap-token",
        f"{WK}/join/join",
    ]
    for earlier, later in itertools.pairwise(order):
        assert _before(graph, earlier, later), (earlier, later)
    # The PKI lands on the masters before kubeadm runs; another cluster's host is refused first.
    assert _before(graph, f"{CP}/membership/membership", f"{CP}/pki/pki")
    assert _before(graph, f"{CP}/pki/pki", f"{CP}/join-master2/join")
    # Every phase the control plane stands on ran before it.
    for phase in ("etcd", "container-runtime", "pki"):
        assert any(
            _before(graph, node, f"{CP}/membership/membership")
            for node in graph.nodes
            if node.startswith(f"create-cluster/{phase}/")
        ), phase


def test_binaries_kubelet_unit_and_no_secret_in_params() -> None:
    graph = _plan()
    for host_group, names in (
        ("control-plane", ("kubeadm", "kubelet", "kubectl")),
        ("workers", ("kubeadm", "kubelet")),
    ):
        for name in names:
            step = graph.nodes[f"create-cluster/{host_group}/binaries/{name}"].step
            assert step.params()["component"] == name
    kubelet = graph.nodes[f"{CP}/kubelet/kubelet"].step.params()
    assert kubelet["start"] is False  # kubeadm starts it
    assert kubelet["enable"] is True
    for node in graph.nodes.values():
        assert "token" not in {key.lower() for key in node.step.params()}


def test_the_first_master_gets_the_kubeconfigs_kubeadm_init_keeps() -> None:
    graph = _plan()
    first = graph.nodes[f"{CP}/pki-first/pki"]
    others = graph.nodes[f"{CP}/pki/pki"]
    assert first.hosts == ("master1",)
    assert others.hosts == ("master2", "master3")
    first_dest, other_dest = _dests(first.step), _dests(others.step)
    assert "/etc/kubernetes/admin.conf" in first_dest - other_dest
    assert "/etc/kubernetes/pki/ca.key" in other_dest  # kubeadm then makes no CA of its own


def test_stacked_etcd_member_certificates_are_asked_of_the_pki_phase() -> None:
    cluster = make_cluster(etcd={"type": "kubeadm"})
    names = ControlPlaneModule.pki_names(cluster)
    assert {"ca", "sa", "admin", "kubelet-master1", "etcd/server-master2", "etcd/ca"} <= names
    assert "kubelet-master2" not in names  # a joining master's kubelet bootstraps its own
    assert WorkersModule.pki_names(cluster) == frozenset({"ca"})
    graph = CreateClusterPipeline(PhaseSelection.choose(["workers"])).plan(cluster)
    assert not [n for n in graph.nodes if n.startswith("create-cluster/etcd/")]


def test_external_etcd_files_come_from_the_etcd_phase_at_the_configured_paths() -> None:
    cluster = make_cluster(
        etcd={
            "type": "external",
            "external": {
                "endpoints": ["https://10.0.0.5:2379"],
                "caFile": "/srv/etcd/ca.pem",
                "certFile": "/srv/etcd/client.pem",
                "keyFile": "/srv/etcd/client-key.pem",
            },
        }
    )
    graph = CreateClusterPipeline(PhaseSelection.choose(["control-plane"])).plan(cluster)
    placed = graph.nodes["create-cluster/etcd/external-files/external-files"].step
    assert _dests(placed) == {
        "/etc/kubernetes/pki/etcd/ca.crt",
        "/etc/kubernetes/pki/apiserver-etcd-client.crt",
        "/etc/kubernetes/pki/apiserver-etcd-client.key",
    }
    assert _before(graph, "create-cluster/etcd/external-files/external-files", f"{CP}/init/init")


def test_binary_mode_is_not_these_phases() -> None:
    # create cluster picks binary mode's own modules for it (kubexms.kubernetes.binary);
    # these refuse it if ever planned for such a cluster.
    cluster = make_cluster(kubernetes={"type": "kubexm"})
    for module in (ControlPlaneModule(), WorkersModule()):
        with pytest.raises(PlanError, match=r"kubernetes\.type kubexm"):
            Pipeline("create-cluster", [module]).plan(cluster)


def test_host_needs_ports_held_by_the_kubelet_on_a_rerun() -> None:
    cluster = make_cluster()
    masters, _ = control_plane_host_needs(cluster)
    assert masters.ports == (6443, 10250, 10257, 10259)
    assert masters.service == "kubelet.service"
    assert masters.sysctl["net.bridge.bridge-nf-call-iptables"] == "1"
    (workers,) = workers_host_needs(cluster)
    assert workers.ports == (10250,)
    assert "br_netfilter" in workers.kernel_modules


def test_workers_are_the_workers_that_are_not_masters() -> None:
    data_cluster = make_cluster()
    assert worker_names(data_cluster) == ["worker1", "worker2"]
