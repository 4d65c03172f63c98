"""plan_artifacts: the right components, versions, URLs, checksums, hosts and architectures."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from kubexms.artifacts import (
    NOARCH,
    OVERRIDE_SOURCE,
    ArtifactSettings,
    BomError,
    ChecksumUnavailableError,
    artifact_settings,
    parse_artifact_settings,
    plan_artifacts,
)
from kubexms.artifacts._download import refuse_unverifiable
from kubexms.artifacts._mirror import artifact_url, checksum_file_url, rewrite_url
from kubexms.config import Cluster
from tests.unit.artifacts.conftest import host, make_cluster

AMD = ("amd64",)


def _components(plan_items: object) -> set[str]:
    return {artifact.component for artifact in plan_items}  # type: ignore[attr-defined]


def test_default_kubeadm_cluster_needs_the_node_stack_and_calico(one_node: Cluster) -> None:
    plan = plan_artifacts(one_node, {"n1": AMD})
    assert _components(plan.artifacts) == {
        "kubeadm",
        "kubelet",
        "kubectl",
        "etcd",
        "containerd",
        "runc",
        "cni-plugins",
        "crictl",
        "helm",
        "calicoctl",
        "calico-manifests",
    }
    kubeadm = next(a for a in plan.artifacts if a.component == "kubeadm")
    assert kubeadm.url == "https://dl.k8s.io/release/v1.31.4/bin/linux/amd64/kubeadm"
    assert kubeadm.sha256 == "6c8e2fd2fa2cab51debf215fcb9149b94e7046f69ff558290066875200975cf6"
    assert kubeadm.checksum_source is not None
    assert "kubesphere/kubekey/version/components.json@00a5dbd" in kubeadm.checksum_source
    assert kubeadm.relpath == "kubeadm/v1.31.4/amd64/kubeadm"
    assert kubeadm.mode == 0o755
    etcd = next(a for a in plan.artifacts if a.component == "etcd")
    assert etcd.file == "etcd-v3.5.16-linux-amd64.tar.gz"
    assert etcd.url.endswith("/download/v3.5.16/etcd-v3.5.16-linux-amd64.tar.gz")
    assert etcd.mode == 0o644
    containerd = next(a for a in plan.artifacts if a.component == "containerd")
    assert containerd.file == "containerd-1.7.24-linux-amd64.tar.gz"
    assert containerd.checksum_url == containerd.url + ".sha256sum"
    manifests = next(a for a in plan.artifacts if a.component == "calico-manifests")
    assert manifests.arch == NOARCH
    # crictl v1.31.1 has no pin: its sha256 will come from the published .sha256 file.
    crictl = next(a for a in plan.artifacts if a.component == "crictl")
    assert crictl.sha256 is None
    assert crictl.checksum_url == crictl.url + ".sha256"
    refuse_unverifiable(plan)


def test_roles_and_architectures_decide_who_needs_what(tmp_path: Path) -> None:
    cluster = make_cluster(
        [host("m1", 1), host("e1", 2), host("w1", 3, "arm64"), host("w2", 4, None)],
        {"master": ["m1"], "etcd": ["e1"], "worker": ["w1", "w2"]},
        work_dir=tmp_path,
    )
    plan = plan_artifacts(
        cluster, {"m1": AMD, "e1": AMD, "w1": ("arm64",), "w2": ("amd64", "arm64")}
    )
    by_key = {(a.component, a.arch) for a in plan.artifacts}
    assert ("etcd", "amd64") in by_key
    assert ("etcd", "arm64") not in by_key  # the only etcd host is amd64
    assert ("kubectl", "amd64") in by_key
    assert ("kubectl", "arm64") not in by_key  # masters only
    assert {("kubelet", "amd64"), ("kubelet", "arm64")} <= by_key
    assert plan.arches == ["amd64", "arm64"]
    e1 = {a.component for a in plan.for_host("e1", "amd64")}
    assert e1 == {"etcd"}  # an etcd-only host gets etcd and nothing else
    w1 = plan.for_host("w1", "arm64")
    assert {a.arch for a in w1} == {"arm64"}
    assert "kubectl" not in {a.component for a in w1}
    etcd = next(a for a in plan.artifacts if a.component == "etcd")
    assert plan.hosts_for(etcd) == ["e1"]
    kubelet_arm = next(a for a in plan.artifacts if a.key == ("kubelet", "v1.31.4", "arm64"))
    assert plan.hosts_for(kubelet_arm) == ["w1", "w2"]
    # Workers made arm64 node binaries part of the plan; master-only tools stay amd64-only.
    assert plan.missing_arch("m1", "arm64") == ["calicoctl", "helm", "kubectl"]
    assert plan.missing_arch("w1", "arm64") == []


def test_binary_mode_and_other_cnis_change_the_components(tmp_path: Path) -> None:
    cluster = make_cluster(
        [host("n1", 1)],
        {"master": ["n1"], "etcd": ["n1"], "worker": ["n1"]},
        work_dir=tmp_path,
        kubernetes={"type": "kubexm", "version": "v1.33.6"},
        network={"plugin": "cilium"},
        etcd={"type": "kubeadm"},
    )
    plan = plan_artifacts(cluster, {"n1": AMD})
    names = _components(plan.artifacts)
    assert {"kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy"} <= names
    assert "kubeadm" not in names
    assert "etcd" not in names  # static pods: kubeadm's image, not a binary
    assert {"cilium-cli"} <= names
    assert "calicoctl" not in names
    apiserver = next(a for a in plan.artifacts if a.component == "kube-apiserver")
    assert apiserver.sha256 is None
    assert apiserver.checksum_url == (
        "https://dl.k8s.io/release/v1.33.6/bin/linux/amd64/kube-apiserver.sha256"
    )
    runc = next(a for a in plan.artifacts if a.component == "runc")
    assert runc.version == "v1.3.4"  # the 1.33 release line


def test_a_component_without_any_checksum_is_refused_until_pinned(tmp_path: Path) -> None:
    cluster = make_cluster(
        [host("n1", 1)],
        {"master": ["n1"], "etcd": ["n1"], "worker": ["n1"]},
        work_dir=tmp_path,
        network={"plugin": "flannel"},
    )
    plan = plan_artifacts(cluster, {"n1": AMD})
    with pytest.raises(ChecksumUnavailableError) as caught:
        refuse_unverifiable(plan)
    message = str(caught.value)
    assert "flannel-manifest v0.26.7 (noarch)" in message
    assert "spec.artifacts.overrides" in message
    digest = "ab" * 32
    settings = parse_artifact_settings(
        {"overrides": {"flannel-manifest": {"sha256": {"noarch": digest}}}}
    )
    pinned = plan_artifacts(cluster, {"n1": AMD}, settings=settings)
    refuse_unverifiable(pinned)
    flannel = next(a for a in pinned.artifacts if a.component == "flannel-manifest")
    assert (flannel.sha256, flannel.checksum_source) == (digest, OVERRIDE_SOURCE)


def test_overrides_replace_version_url_and_checksum(one_node: Cluster) -> None:
    digest = "cd" * 32
    settings = parse_artifact_settings(
        {
            "overrides": {
                "etcd": {
                    "version": "3.4.23",
                    "url": "http://127.0.0.1:9/etcd/{version}/{file}",
                    "sha256": {"amd64": digest},
                }
            }
        }
    )
    plan = plan_artifacts(one_node, {"n1": AMD}, settings=settings).select(["etcd"])
    (etcd,) = plan.artifacts
    assert etcd.version == "v3.4.23"
    assert etcd.url == "http://127.0.0.1:9/etcd/v3.4.23/etcd-v3.4.23-linux-amd64.tar.gz"
    assert etcd.sha256 == digest
    assert etcd.checksum_source == OVERRIDE_SOURCE


def test_unsupported_minor_and_unknown_names_are_reported(tmp_path: Path) -> None:
    cluster = make_cluster(
        [host("n1", 1)],
        {"master": ["n1"], "etcd": ["n1"], "worker": ["n1"]},
        work_dir=tmp_path,
        kubernetes={"version": "v1.28.3"},
    )
    with pytest.raises(BomError) as caught:
        plan_artifacts(cluster, {"n1": AMD})
    assert "Kubernetes 1.28" in str(caught.value)
    assert "1.31, 1.32, 1.33, 1.34" in str(caught.value)
    with pytest.raises(BomError, match="unknown component"):
        plan_artifacts(
            cluster, {"n1": AMD}, settings=parse_artifact_settings({"overrides": {"nope": {}}})
        )
    with pytest.raises(BomError, match="no architecture known for host"):
        plan_artifacts(cluster, {})
    ok = plan_artifacts(
        make_cluster([host("n1", 1)], {"master": ["n1"], "etcd": ["n1"]}, work_dir=tmp_path),
        {"n1": AMD},
    )
    with pytest.raises(BomError, match="needs no kube-proxy"):
        ok.select(["kube-proxy"])


def test_mirror_and_rewrites_decide_the_url(one_node: Cluster) -> None:
    plan = plan_artifacts(one_node, {"n1": AMD}).select(["containerd"])
    (artifact,) = plan.artifacts
    rewrites = ArtifactSettings(
        url_rewrites={
            "https://github.com/": "http://127.0.0.1:8080/gh/",
            "https://github.com/containerd/": "http://127.0.0.1:8080/ctd/",
        }
    )
    assert artifact_url(artifact, rewrites) == (
        "http://127.0.0.1:8080/ctd/containerd/releases/download/v1.7.24/"
        "containerd-1.7.24-linux-amd64.tar.gz"
    )
    assert checksum_file_url(artifact, rewrites) == artifact_url(artifact, rewrites) + ".sha256sum"
    assert rewrite_url("https://get.helm.sh/x", rewrites) == "https://get.helm.sh/x"
    mirror = ArtifactSettings(mirror="file:///srv/mirror/")
    assert artifact_url(artifact, mirror) == (
        "file:///srv/mirror/containerd/v1.7.24/amd64/containerd-1.7.24-linux-amd64.tar.gz"
    )


def test_settings_are_read_defensively(one_node: Cluster) -> None:
    assert artifact_settings(one_node) == ArtifactSettings()
    fake = SimpleNamespace(spec=SimpleNamespace(artifacts={"mirror": "https://m.example/k"}))
    assert artifact_settings(fake).mirror == "https://m.example/k"
    with pytest.raises(BomError, match=r"spec\.artifacts\.mirror"):
        artifact_settings(SimpleNamespace(spec=SimpleNamespace(artifacts={"mirror": "ftp://x"})))
    with pytest.raises(BomError, match=r"spec\.artifacts\.overrides\.etcd\.sha256"):
        parse_artifact_settings({"overrides": {"etcd": {"sha256": {"amd64": "xyz"}}}})
    with pytest.raises(BomError, match="remoteDir"):
        parse_artifact_settings({"remoteDir": "relative/dir"})
    merged = ArtifactSettings(mirror="https://a").merged(mirror=None, download_concurrency=2)
    assert (merged.mirror, merged.download_concurrency) == ("https://a", 2)
