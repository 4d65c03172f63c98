"""The flag lists of the binary-mode components and the check of ``extraArgs`` against them."""

from __future__ import annotations

import pytest

from kubexms.config import Cluster, ConfigError
from kubexms.kubernetes._layout import SUPPORTED_MINORS
from kubexms.kubernetes.binary import (
    COMPONENTS,
    PINNED,
    apiserver_args,
    check_extra_args,
    component_flags,
    controller_manager_args,
    extra_args_problems,
    kube_proxy_args,
    kubelet_args,
    scheduler_args,
)
from tests.unit.kubernetes.sample import make_cluster


def _binary(version: str = "v1.31.4", **components: dict[str, str]) -> Cluster:
    kubernetes: dict[str, object] = {"type": "kubexm"}
    for field, args in components.items():
        kubernetes[field] = {"extraArgs": args}
    return make_cluster(version=version, kubernetes=kubernetes)


@pytest.mark.parametrize("minor", SUPPORTED_MINORS)
def test_every_flag_kubexms_sets_is_a_flag_of_its_component(minor: str) -> None:
    cluster = make_cluster(version=f"v{minor}.2", kubernetes={"type": "kubexm"})
    rendered = {
        "kube-apiserver": apiserver_args(cluster, "10.213.0.11"),
        "kube-controller-manager": controller_manager_args(cluster),
        "kube-scheduler": scheduler_args(cluster),
        "kubelet": kubelet_args(cluster, "worker1", "10.213.0.14"),
        "kube-proxy": kube_proxy_args(cluster),
    }
    for component, args in rendered.items():
        unknown = set(args) - component_flags(component, minor)
        assert not unknown, (component, minor, unknown)


@pytest.mark.parametrize("component", COMPONENTS)
def test_pinned_flags_and_the_shared_ones_are_in_every_list(component: str) -> None:
    for minor in SUPPORTED_MINORS:
        flags = component_flags(component, minor)
        assert {"help", "version", "v", "feature-gates"} <= flags
        assert set(PINNED[component]) <= flags, (component, minor)


def test_flags_of_a_later_minor_are_refused_before_it() -> None:
    assert "emulated-version" not in component_flags("kube-scheduler", "1.31")
    assert "emulated-version" in component_flags("kube-scheduler", "1.32")
    assert "requestheader-uid-headers" in component_flags("kube-controller-manager", "1.32")
    assert "requestheader-uid-headers" not in component_flags("kube-controller-manager", "1.31")
    old = extra_args_problems(_binary("v1.31.4", scheduler={"emulated-version": "1.30"}))
    assert [issue.path for issue in old] == ["spec.kubernetes.scheduler.extraArgs.emulated-version"]
    assert extra_args_problems(_binary("v1.32.1", scheduler={"emulated-version": "1.31"})) == []


def test_known_flags_merge_over_the_defaults() -> None:
    cluster = _binary(
        apiServer={"audit-log-maxage": "30", "authorization-mode": "Node,RBAC,Webhook"},
        kubelet={"max-pods": "200"},
    )
    assert extra_args_problems(cluster) == []
    args = apiserver_args(cluster, "10.213.0.11")
    assert args["audit-log-maxage"] == "30"
    assert args["authorization-mode"] == "Node,RBAC,Webhook"
    assert kubelet_args(cluster, "worker1", "10.213.0.14")["max-pods"] == "200"


def test_an_unknown_flag_is_a_config_error_naming_its_field_path() -> None:
    cluster = _binary(apiServer={"foo": "1"}, kubeProxy={"proxy-mod": "ipvs"})
    with pytest.raises(ConfigError) as error:
        check_extra_args(cluster)
    issues = {issue.path: issue.message for issue in error.value.issues}
    assert issues["spec.kubernetes.apiServer.extraArgs.foo"] == (
        "--foo is not a kube-apiserver 1.31 flag"
    )
    assert "did you mean 'proxy-mode'?" in issues["spec.kubernetes.kubeProxy.extraArgs.proxy-mod"]


def test_flags_naming_what_kubexms_places_are_refused_with_the_reason() -> None:
    cluster = _binary(
        controllerManager={"kubeconfig": "/tmp/x"},
        kubelet={"node-ip": "10.0.0.1"},
        scheduler={"--leader-elect": "false"},
    )
    issues = {issue.path: issue.message for issue in extra_args_problems(cluster)}
    assert (
        "names a file kubexms places"
        in issues["spec.kubernetes.controllerManager.extraArgs.kubeconfig"]
    )
    assert "internal address" in issues["spec.kubernetes.kubelet.extraArgs.node-ip"]
    assert "without leading dashes" in issues["spec.kubernetes.scheduler.extraArgs.--leader-elect"]


def test_an_unsupported_minor_has_no_list() -> None:
    with pytest.raises(KeyError):
        component_flags("kube-apiserver", "1.30")
    with pytest.raises(KeyError):
        component_flags("kubectl", "1.31")
