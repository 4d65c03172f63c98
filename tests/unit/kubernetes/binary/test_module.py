"""Planning binary mode's phases: what runs where, in which order, and refusals."""

from __future__ import annotations

import pytest

from kubexms.engine import CONTROL_HOST, PlanError
from kubexms.kubernetes.binary import BinaryControlPlaneModule, BinaryWorkersModule
from tests.unit.kubernetes.binary.planning import plan_binary
from tests.unit.kubernetes.sample import make_cluster

PREFIX = "create-cluster/control-plane"


def test_the_control_plane_runs_on_the_masters_in_order() -> None:
    cluster = make_cluster(kubernetes={"type": "kubexm"})
    graph = plan_binary(cluster, BinaryControlPlaneModule())
    nodes = graph.nodes
    assert nodes[f"{PREFIX}/encryption-key/encryption-key"].hosts == (CONTROL_HOST,)
    masters = ("master1", "master2", "master3")
    assert nodes[f"{PREFIX}/prepare/bin-kube-apiserver"].hosts == masters
    assert nodes[f"{PREFIX}/prepare/certificates"].hosts == masters
    for master in masters:
        assert nodes[f"{PREFIX}/apiserver-{master}/service-kube-apiserver"].hosts == (master,)
        assert nodes[f"{PREFIX}/node-{master}/service-kubelet"].hosts == (master,)
    assert nodes[f"{PREFIX}/controllers/service-kube-scheduler"].hosts == masters
    assert nodes[f"{PREFIX}/cluster-objects/cluster-objects"].hosts == ("master1",)
    assert nodes[f"{PREFIX}/user-kubeconfig/user-kubeconfig"].hosts == (CONTROL_HOST,)
    assert nodes[f"{PREFIX}/api-ready/api-ready"].hosts == ("master1",)
    masters_waited = nodes[f"{PREFIX}/nodes-registered/nodes-registered"].step
    assert masters_waited.params()["nodes"] == ["master1", "master2", "master3"]
    assert not any("worker" in name for name in nodes)


def test_workers_get_the_kubelet_and_kube_proxy() -> None:
    cluster = make_cluster(kubernetes={"type": "kubexm"})
    graph = plan_binary(cluster, BinaryWorkersModule())
    for worker in ("worker1", "worker2"):
        steps = [n for n in graph.nodes if n.startswith(f"create-cluster/workers/node-{worker}/")]
        assert [step.rsplit("/", 1)[1] for step in steps] == [
            "bin-kubelet",
            "bin-kube-proxy",
            "node-certificates",
            "service-kubelet",
            "service-kube-proxy",
        ]
    waited = graph.nodes["create-cluster/workers/nodes-registered/nodes-registered"]
    assert waited.hosts == ("master1",)


def test_an_unknown_extra_arg_stops_planning_naming_the_field() -> None:
    cluster = make_cluster(
        kubernetes={"type": "kubexm", "controllerManager": {"extraArgs": {"no-such-flag": "1"}}}
    )
    with pytest.raises(
        PlanError, match=r"spec\.kubernetes\.controllerManager\.extraArgs\.no-such-flag"
    ):
        plan_binary(cluster, BinaryControlPlaneModule())


def test_stacked_etcd_and_kubeadm_mode_are_refused() -> None:
    with pytest.raises(PlanError, match=r"etcd\.type kubeadm"):
        plan_binary(
            make_cluster(etcd={"type": "kubeadm"}, kubernetes={"type": "kubexm"}),
            BinaryControlPlaneModule(),
        )
    with pytest.raises(PlanError, match="not kubexm"):
        plan_binary(make_cluster(), BinaryWorkersModule())


def test_a_new_kubernetes_version_restarts_each_service() -> None:
    from kubexms.kubernetes.binary._services import apiserver_service, kubelet_service

    old = make_cluster(kubernetes={"type": "kubexm"}, version="v1.31.4")
    new = make_cluster(kubernetes={"type": "kubexm"}, version="v1.32.1")
    for service in (apiserver_service, kubelet_service):
        before = {item.path: item.content for item in service(old, "master1").files}
        after = {item.path: item.content for item in service(new, "master1").files}
        changed = [path for path in after if after[path] != before.get(path)]
        assert any(path.endswith(".release") for path in changed), changed
