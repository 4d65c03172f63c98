"""spec.addons: charts and manifests kubexms can install reproducibly, checked with paths."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kubexms.config import Addon, ConfigError, parse_config
from tests.unit.config.sample import to_yaml
from tests.unit.kubernetes.sample import cluster_data

DIGEST = "a" * 64


def addons(*entries: dict[str, Any]) -> list[Addon]:
    data = cluster_data()
    data["spec"]["addons"] = list(entries)
    return list(parse_config(to_yaml(data)).spec.addons)


def issues(*entries: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as caught:
        addons(*entries)
    return [(issue.path, issue.message) for issue in caught.value.issues]


def test_a_repo_chart_with_its_version_values_and_values_files() -> None:
    (addon,) = addons(
        {
            "name": "metrics-server",
            "type": "helm",
            "namespace": "kube-system",
            "chart": "metrics-server",
            "repo": "https://kubernetes-sigs.github.io/metrics-server/",
            "version": "3.12.2",
            "values": {"args": ["--kubelet-insecure-tls"]},
            "valuesFiles": ["files/ms.yaml"],
            "timeout": 120,
        }
    )
    assert addon.local_chart is False
    assert addon.values_files == [Path("files/ms.yaml")]
    assert addon.timeout == 120


def test_a_local_chart_archive() -> None:
    (addon,) = addons({"name": "app", "type": "helm", "chart": "charts/app-1.2.0.tgz"})
    assert addon.local_chart is True
    assert addon.timeout == 300


def test_manifests_are_files_or_pinned_urls() -> None:
    (addon,) = addons(
        {
            "name": "extras",
            "type": "manifest",
            "manifests": ["files/a.yaml", {"url": "https://example.com/b.yaml", "sha256": DIGEST}],
        }
    )
    assert addon.manifests[0].path == Path("files/a.yaml")
    assert (addon.manifests[1].url, addon.manifests[1].sha256) == (
        "https://example.com/b.yaml",
        DIGEST,
    )


@pytest.mark.parametrize(
    ("entry", "path", "message"),
    [
        (
            {"name": "x", "type": "helm", "chart": "nginx"},
            "spec.addons[0].chart",
            "'nginx' is a chart name, which needs repo; or give the path of a local .tgz archive",
        ),
        (
            {"name": "x", "type": "helm", "chart": "nginx", "repo": "https://charts.example"},
            "spec.addons[0].version",
            "is required with repo: an unpinned chart changes under the cluster and cannot be "
            "carried in an offline bundle",
        ),
        (
            {"name": "x", "type": "helm", "chart": "c.tgz", "repo": "https://charts.example"},
            "spec.addons[0].repo",
            "a local chart archive is installed as is; remove repo",
        ),
        (
            {"name": "x", "type": "helm", "chart": "c.tgz", "version": "1.0.0"},
            "spec.addons[0].version",
            "a local chart archive is its own version; remove version",
        ),
        (
            {"name": "a" * 54, "type": "helm", "chart": "c.tgz"},
            "spec.addons[0].name",
            "is the Helm release name: at most 53 characters",
        ),
        (
            {"name": "x", "type": "manifest", "manifests": ["https://example.com/a.yaml"]},
            "spec.addons[0].manifests[0]",
            "a URL must be pinned: write {url: https://example.com/a.yaml, sha256: <digest>}",
        ),
        (
            {"name": "x", "type": "manifest", "manifests": [{"path": "https://example.com/a"}]},
            "spec.addons[0].manifests[0].path",
            "is a URL: write url and sha256 instead",
        ),
        (
            {"name": "x", "type": "manifest", "manifests": [{"url": "https://example.com/a"}]},
            "spec.addons[0].manifests[0].sha256",
            "is required with url: a fetched manifest is pinned",
        ),
        (
            {"name": "x", "type": "manifest", "manifests": [{"path": "a.yaml", "sha256": DIGEST}]},
            "spec.addons[0].manifests[0].sha256",
            "is only for a url",
        ),
        (
            {
                "name": "x",
                "type": "manifest",
                "manifests": [{"path": "a.yaml", "url": "https://example.com/a"}],
            },
            "spec.addons[0].manifests[0]",
            "give path or url, not both",
        ),
        (
            {"name": "x", "type": "manifest", "manifests": [{}]},
            "spec.addons[0].manifests[0]",
            "give the path of a file, or url with sha256",
        ),
        (
            {"name": "x", "type": "manifest", "manifests": ["a.yaml"], "timeout": 5},
            "spec.addons[0].timeout",
            "is only for helm addons",
        ),
    ],
)
def test_what_cannot_be_installed_reproducibly_is_refused_at_its_path(
    entry: dict[str, Any], path: str, message: str
) -> None:
    assert issues(entry) == [(path, message)]


def test_a_bad_digest_names_its_path() -> None:
    ((path, _),) = issues(
        {"name": "x", "type": "manifest", "manifests": [{"url": "https://e.x/a", "sha256": "ab"}]}
    )
    assert path == "spec.addons[0].manifests[0].sha256"
