"""ComponentModule: a phase's declarations give what the pipeline asks of the foundation."""

from __future__ import annotations

from collections.abc import Iterable

from kubexms.config import Cluster, parse_config
from kubexms.steps import ComponentModule, PKIFile, pki_item, pki_items
from tests.unit.config.sample import base, to_yaml


def _cluster(registry: bool = False) -> Cluster:
    data = base()
    if registry:
        data["spec"]["hosts"].append({"name": "node4", "address": "10.213.0.14"})
        data["spec"]["roleGroups"]["registry"] = ["node4"]
        data["spec"]["registry"] = {"type": "registry", "privateRegistry": "reg.test"}
    return parse_config(to_yaml(data))


class Plain(ComponentModule):
    name = "plain"


class Declared(ComponentModule):
    """Fixed declarations, installed only with a registry to run."""

    name = "declared"
    artifacts = ("one", "two")
    roles = ("master", "worker")

    @classmethod
    def installs(cls, cluster: Cluster) -> bool:
        return cluster.spec.registry.type == "registry"

    @classmethod
    def certificates(cls, cluster: Cluster) -> Iterable[str]:
        return pki_items([("node1", [PKIFile("etcd/server-{host}.key", "/x")])])


class ByCluster(ComponentModule):
    """Artifacts and roles that follow the cluster file."""

    name = "by-cluster"

    @classmethod
    def artifacts_for(cls, cluster: Cluster) -> Iterable[str]:
        return ("helm",) if cluster.spec.registry.type == "registry" else ("kubectl",)

    @classmethod
    def roles_for(cls, cluster: Cluster) -> Iterable[str]:
        return ("registry",) if cluster.spec.registry.type == "registry" else ("master",)


def test_a_module_that_declares_nothing_asks_for_nothing() -> None:
    cluster = _cluster()
    assert Plain.artifact_components(cluster) == frozenset()
    assert Plain.pki_names(cluster) == frozenset()
    assert Plain.host_roles(cluster) == frozenset()


def test_declarations_are_what_the_pipeline_gets_when_the_phase_installs() -> None:
    cluster = _cluster(registry=True)
    assert Declared.artifact_components(cluster) == frozenset({"one", "two"})
    assert Declared.pki_names(cluster) == frozenset({"etcd/server-node1"})
    assert Declared.host_roles(cluster) == frozenset({"master", "worker"})


def test_a_phase_that_installs_nothing_asks_for_no_artifact_certificate_or_host() -> None:
    cluster = _cluster(registry=False)
    assert Declared.artifact_components(cluster) == frozenset()
    assert Declared.pki_names(cluster) == frozenset()
    assert Declared.host_roles(cluster) == frozenset()


def test_artifacts_and_roles_may_follow_the_cluster_file() -> None:
    assert ByCluster.artifact_components(_cluster()) == frozenset({"kubectl"})
    assert ByCluster.host_roles(_cluster()) == frozenset({"master"})
    assert ByCluster.artifact_components(_cluster(registry=True)) == frozenset({"helm"})
    assert ByCluster.host_roles(_cluster(registry=True)) == frozenset({"registry"})


def test_pki_items_name_the_cluster_pki_entries_files_come_from() -> None:
    assert pki_item("etcd/server-m1.key") == "etcd/server-m1"
    assert pki_item("kubeconfig/admin.conf") == "admin"
    assert pki_item("sa.pub") == "sa"
    files = [PKIFile("ca.crt", "/a"), PKIFile("kubeconfig/kubelet-{host}.conf", "/b")]
    assert pki_items([("n1", files), ("n2", files)]) == frozenset(
        {"ca", "kubelet-n1", "kubelet-n2"}
    )
