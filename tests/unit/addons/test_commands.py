"""The helm and kubectl command lines of an add-on, and where its files go on the host."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from kubexms.addons import (
    chart_on_host,
    helm_argv,
    inline_values_yaml,
    manifest_argvs,
    manifests_on_host,
    values_files_on_host,
)
from kubexms.config import Addon, parse_config
from tests.unit.config.sample import to_yaml
from tests.unit.kubernetes.sample import cluster_data


def addon(entry: dict[str, Any]) -> Addon:
    data = cluster_data()
    data["spec"]["addons"] = [entry]
    (parsed,) = parse_config(to_yaml(data)).spec.addons
    return parsed


def test_a_repo_chart_with_values_files_then_inline_values() -> None:
    metrics = addon(
        {
            "name": "metrics-server",
            "type": "helm",
            "namespace": "kube-system",
            "chart": "metrics-server",
            "repo": "https://kubernetes-sigs.github.io/metrics-server/",
            "version": "3.12.2",
            "values": {"replicas": 2},
            "valuesFiles": ["a/values.yaml", "b/values.yaml"],
            "timeout": 90.5,
        }
    )
    assert helm_argv(metrics) == [
        "/usr/local/bin/helm",
        "upgrade",
        "--install",
        "metrics-server",
        "metrics-server",
        "--kubeconfig=/etc/kubernetes/admin.conf",
        "--namespace=kube-system",
        "--create-namespace",
        "--wait",
        "--timeout=91s",
        "--repo=https://kubernetes-sigs.github.io/metrics-server/",
        "--version=3.12.2",
        "--values=/etc/kubexms/addons/metrics-server/values-0-values.yaml",
        "--values=/etc/kubexms/addons/metrics-server/values-1-values.yaml",
        "--values=/etc/kubexms/addons/metrics-server/values.yaml",
    ]
    text = inline_values_yaml(metrics)
    assert text is not None
    assert yaml.safe_load(text) == {"replicas": 2}


def test_a_local_chart_is_installed_from_its_copy_on_the_host() -> None:
    app = addon({"name": "app", "type": "helm", "chart": "charts/app-1.2.0.tgz"})
    assert chart_on_host(app) == "/etc/kubexms/addons/app/app-1.2.0.tgz"
    argv = helm_argv(app)
    assert argv[4] == "/etc/kubexms/addons/app/app-1.2.0.tgz"
    assert not [a for a in argv if a.startswith(("--repo", "--version", "--values"))]
    assert "--timeout=300s" in argv
    assert inline_values_yaml(app) is None
    assert values_files_on_host(app) == []


def test_manifests_are_applied_server_side_in_order() -> None:
    extras = addon(
        {
            "name": "extras",
            "type": "manifest",
            "namespace": "tools",
            "manifests": [
                "files/rbac.yaml",
                {"url": "https://example.com/x/deploy.yaml", "sha256": "b" * 64},
                {"url": "https://example.com/", "sha256": "c" * 64},
            ],
        }
    )
    placed = manifests_on_host(extras)
    assert placed == [
        "/etc/kubexms/addons/extras/00-rbac.yaml",
        "/etc/kubexms/addons/extras/01-deploy.yaml",
        "/etc/kubexms/addons/extras/02-manifest.yaml",
    ]
    argvs = manifest_argvs(extras)
    assert [argv[-1] for argv in argvs] == placed
    for argv in argvs:
        assert argv[:3] == [
            "/usr/local/bin/kubectl",
            "--kubeconfig=/etc/kubernetes/admin.conf",
            "apply",
        ]
        assert "--server-side" in argv


def test_a_manifest_addon_has_no_chart() -> None:
    extras = addon({"name": "extras", "type": "manifest", "manifests": ["a.yaml"]})
    with pytest.raises(ValueError, match="not a helm addon"):
        chart_on_host(extras)
