"""``create cluster`` picks binary mode's modules for ``kubernetes.type: kubexm`` (and kubeadm
mode's otherwise), with their artifacts, PKI items and ports."""

from __future__ import annotations

from kubexms.pipelines import CreateClusterPipeline, PhaseSelection
from tests.unit.kubernetes.sample import make_cluster


def test_binary_mode_plans_its_own_control_plane_and_workers() -> None:
    cluster = make_cluster(kubernetes={"type": "kubexm"})
    graph = CreateClusterPipeline(PhaseSelection.choose(["workers"])).plan(cluster)
    nodes = graph.nodes
    assert "create-cluster/control-plane/apiserver-master2/service-kube-apiserver" in nodes
    assert "create-cluster/control-plane/cluster-objects/cluster-objects" in nodes
    assert "create-cluster/workers/node-worker1/service-kube-proxy" in nodes
    assert not any("kubeadm" in name for name in nodes)
    fetched = repr(nodes["create-cluster/artifacts/fetch/fetch"].step.params())
    for component in ("kube-apiserver", "kube-scheduler", "kube-proxy", "kubelet", "kubectl"):
        assert component in fetched
    assert "kubeadm" not in fetched
    made = repr(nodes["create-cluster/pki/generate/generate"].step.params())
    assert "kubelet-serving-worker2" in made
    assert "kube-proxy" in made


def test_kubeadm_mode_keeps_kubeadms_modules() -> None:
    graph = CreateClusterPipeline(PhaseSelection.choose(["workers"])).plan(make_cluster())
    assert any(name.startswith("create-cluster/control-plane/init/") for name in graph.nodes)
    assert not any("kube-apiserver" in name for name in graph.nodes)
