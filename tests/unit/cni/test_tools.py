"""kubectl's command line: server-side apply of a file on the first master."""

from __future__ import annotations

import pytest

from kubexms.cni import (
    ADMIN_KUBECONFIG,
    daemonset_selectors,
    kubectl_apply_argv,
    kubectl_get_json_argv,
    kubectl_rollout_status_argv,
    load_objects,
)
from tests.unit.cni.upstream import upstream_manifest


def test_apply_is_server_side_with_kubexms_as_field_manager() -> None:
    assert kubectl_apply_argv("/etc/kubexms/cni/calico.yaml") == [
        "/usr/local/bin/kubectl",
        f"--kubeconfig={ADMIN_KUBECONFIG}",
        "apply",
        "--server-side",
        "--field-manager=kubexms",
        "--force-conflicts",
        "-f",
        "/etc/kubexms/cni/calico.yaml",
    ]


def test_a_relative_manifest_path_is_refused() -> None:
    with pytest.raises(ValueError, match="the manifest must be an absolute path"):
        kubectl_apply_argv("calico.yaml")


def test_rollout_status_waits_for_the_daemonset_with_a_timeout() -> None:
    assert kubectl_rollout_status_argv("kube-system", "calico-node", timeout_seconds=300) == [
        "/usr/local/bin/kubectl",
        f"--kubeconfig={ADMIN_KUBECONFIG}",
        "--namespace=kube-system",
        "rollout",
        "status",
        "daemonset/calico-node",
        "--timeout=300s",
    ]
    with pytest.raises(ValueError, match="timeout_seconds must be positive"):
        kubectl_rollout_status_argv("kube-system", "calico-node", timeout_seconds=0)


def test_get_json_of_nodes_and_of_pods_by_selector() -> None:
    assert kubectl_get_json_argv("nodes") == [
        "/usr/local/bin/kubectl",
        f"--kubeconfig={ADMIN_KUBECONFIG}",
        "get",
        "nodes",
        "--output=json",
    ]
    assert kubectl_get_json_argv("pods", namespace="kube-flannel", selector="app=flannel")[2:] == [
        "--namespace=kube-flannel",
        "get",
        "pods",
        "--selector=app=flannel",
        "--output=json",
    ]


def test_the_daemonsets_to_wait_for_come_from_the_rendered_objects() -> None:
    calico = load_objects(upstream_manifest("1.31", "calico-manifests"), "calico")
    assert daemonset_selectors(calico) == [("kube-system", "calico-node", "k8s-app=calico-node")]
    flannel = load_objects(upstream_manifest("1.31", "flannel-manifest"), "flannel")
    assert daemonset_selectors(flannel) == [("kube-flannel", "kube-flannel-ds", "app=flannel")]
