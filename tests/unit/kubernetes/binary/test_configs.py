"""The kubelet, kube-proxy and scheduler configuration files of binary mode, checked against the
strict schemas of each version (tests/fixtures/k8s_schemas: unknown fields fail)."""

from __future__ import annotations

import pytest
import yaml

from kubexms.kubernetes._kubeadm_config import to_yaml
from kubexms.kubernetes._layout import SUPPORTED_MINORS
from kubexms.kubernetes.binary import (
    binary_kube_proxy_configuration,
    binary_kubelet_configuration,
    scheduler_configuration,
)
from kubexms.kubernetes.binary._services import (
    kube_proxy_service,
    kubelet_service,
    scheduler_service,
)
from tests.unit.kubernetes.k8s_schemas import assert_valid_yaml, problems
from tests.unit.kubernetes.sample import make_cluster


@pytest.mark.parametrize("minor", SUPPORTED_MINORS)
def test_every_configuration_file_is_valid_for_its_version(minor: str) -> None:
    cluster = make_cluster(
        version=f"v{minor}.1",
        kubernetes={
            "type": "kubexm",
            "kubeProxy": {"mode": "ipvs"},
            "kubelet": {"config": {"maxPods": 150}},
        },
    )
    for document in (
        binary_kubelet_configuration(cluster),
        binary_kube_proxy_configuration(cluster, "worker1"),
        scheduler_configuration(cluster),
    ):
        assert problems(document, minor) == [], document["kind"]


@pytest.mark.parametrize("minor", SUPPORTED_MINORS)
def test_the_files_the_services_place_are_the_valid_documents(minor: str) -> None:
    cluster = make_cluster(version=f"v{minor}.1", kubernetes={"type": "kubexm"})
    for service, kind in (
        (kubelet_service(cluster, "master1"), "KubeletConfiguration"),
        (kube_proxy_service(cluster, "master1"), "KubeProxyConfiguration"),
        (scheduler_service(cluster), "KubeSchedulerConfiguration"),
    ):
        config, release = service.files
        assert_valid_yaml(config.content, minor, [kind])
        assert release.content == f"v{minor}.1\n"


def test_the_check_is_not_vacuous_a_misspelt_field_fails() -> None:
    cluster = make_cluster(kubernetes={"type": "kubexm"})
    document = scheduler_configuration(cluster)
    document["leaderElection"] = {"leaderElection": True}
    assert problems(document, "1.31")


def test_node_specifics_kubelet_serving_cert_kube_proxy_kubeconfig_and_taints() -> None:
    cluster = make_cluster(kubernetes={"type": "kubexm"})
    kubelet = binary_kubelet_configuration(cluster)
    assert kubelet["tlsCertFile"] == "/var/lib/kubelet/pki/kubelet.crt"
    assert kubelet["tlsPrivateKeyFile"] == "/var/lib/kubelet/pki/kubelet.key"
    proxy = binary_kube_proxy_configuration(cluster, "worker2")
    assert proxy["clientConnection"] == {"kubeconfig": "/etc/kubernetes/kube-proxy.conf"}
    assert proxy["hostnameOverride"] == "worker2"
    master = yaml.safe_load(kubelet_service(cluster, "master1").files[0].content)
    worker = yaml.safe_load(kubelet_service(cluster, "worker1").files[0].content)
    assert master["registerWithTaints"] == [
        {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}
    ]
    assert "registerWithTaints" not in worker
    assert to_yaml([scheduler_configuration(cluster)]).startswith(
        "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"
    )
