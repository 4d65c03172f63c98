"""The packaged bill of materials: complete, sourced, and strict about what it accepts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from kubexms.artifacts import ARCHES, BomError, default_bom, load_bom, minor_of, parse_bom
from kubexms.config._etcd import DEFAULT_ETCD_VERSION
from kubexms.config._kubernetes import DEFAULT_CONTAINERD_VERSION, DEFAULT_KUBERNETES_VERSION

REQUIRED = {
    "kubeadm",
    "kubelet",
    "kubectl",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kube-proxy",
    "etcd",
    "containerd",
    "runc",
    "cni-plugins",
    "crictl",
    "helm",
    "calicoctl",
    "calico-manifests",
    "cilium-cli",
    "flannel-manifest",
}


def _packaged_text() -> str:
    import kubexms.artifacts

    return (Path(kubexms.artifacts.__file__).parent / "data" / "bom.yaml").read_text()


def test_covers_three_minors_and_every_required_component() -> None:
    bom = default_bom()
    assert len(bom.minors) >= 3
    assert set(bom.components) >= REQUIRED
    for minor in bom.minors:
        versioned = {name for name, spec in bom.components.items() if spec.version_from is None}
        assert versioned <= set(bom.releases[minor]), minor


def test_the_cluster_file_defaults_are_pinned() -> None:
    bom = default_bom()
    assert minor_of(DEFAULT_KUBERNETES_VERSION) in bom.minors
    for component, version in [
        ("kubeadm", DEFAULT_KUBERNETES_VERSION),
        ("kubelet", DEFAULT_KUBERNETES_VERSION),
        ("kubectl", DEFAULT_KUBERNETES_VERSION),
        ("etcd", DEFAULT_ETCD_VERSION),
        ("containerd", DEFAULT_CONTAINERD_VERSION),
    ]:
        for arch in ARCHES:
            assert bom.pinned(component, version, arch) is not None, (component, arch)


def test_every_pin_names_a_source_with_repo_path_and_commit() -> None:
    bom = default_bom()
    for name, spec in bom.components.items():
        for version, pin in spec.sha256.items():
            source = bom.sources[pin.source]
            assert source.repo, (name, version)
            assert source.path, (name, version)
            assert source.commit is not None
            assert re.fullmatch(r"[0-9a-f]{40}", source.commit)


REFUSED_UNTIL_PINNED = {"flannel-manifest"}
"""Published without a checksum: bom.yaml says the user pins them (artifacts.overrides)."""


def test_release_versions_are_verifiable_or_documented_as_refused() -> None:
    """Each release's version of a per-arch component is pinned or has a published checksum."""
    bom = default_bom()
    unverifiable = set()
    for minor, versions in bom.releases.items():
        for name, version in versions.items():
            spec = bom.components[name]
            arches = ARCHES if spec.per_arch else ("noarch",)
            pinned = all(bom.pinned(name, version, arch) for arch in arches)
            if not pinned and spec.checksum_url is None:
                unverifiable.add(name)
            assert pinned or spec.checksum_url or name in REFUSED_UNTIL_PINNED, (minor, name)
    assert unverifiable == REFUSED_UNTIL_PINNED


def test_no_checksum_is_pinned_twice_with_different_values() -> None:
    """A digest identifies one file: the same value under two keys would be a copy slip."""
    seen: dict[str, tuple[str, str, str]] = {}
    bom = default_bom()
    for name, spec in bom.components.items():
        for version, pin in spec.sha256.items():
            for arch in (*ARCHES, "noarch"):
                digest = pin.for_arch(arch)
                if digest is None:
                    continue
                assert digest not in seen, (name, version, arch, seen.get(digest))
                seen[digest] = (name, version, arch)


def _mutated(change: str, replacement: str) -> str:
    text = _packaged_text()
    assert change in text
    return text.replace(change, replacement, 1)


@pytest.mark.parametrize(
    ("change", "replacement", "message"),
    [
        ("{source: kubekey-00a5dbd,", "{source: nowhere,", "unknown source 'nowhere'"),
        ("/kubeadm\n", "/{flavour}\n", "unknown placeholder(s) flavour"),
        (
            "amd64: 6c8e2fd2fa2cab51debf215fcb9149b94e7046f69ff558290066875200975cf6",
            "amd64: 6c8e2fd2",
            "is not a sha256",
        ),
        ("roles: [etcd]", "roles: [etcd, toaster]", "unknown role(s) toaster"),
        ("when: {etcd.type: kubexm}", "when: {etcd.flavour: kubexm}", "`when` key"),
        ("    runc: v1.2.9\n", "    runc: v1.2.9\n    kubelet: v1.31.4\n", "follows the"),
        ("schema: 1", "schema: 2", "schema"),
    ],
)
def test_malformed_boms_are_refused_with_the_reason(
    change: str, replacement: str, message: str
) -> None:
    with pytest.raises(BomError) as caught:
        parse_bom(_mutated(change, replacement), "test.yaml")
    assert message in str(caught.value)
    assert "test.yaml" in str(caught.value)


def test_load_bom_reads_another_file_and_reports_unreadable_ones(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    data = yaml.safe_load(_packaged_text())
    data["releases"] = {"1.31": data["releases"]["1.31"]}
    path.write_text(yaml.safe_dump(data))
    assert load_bom(path).minors == ["1.31"]
    with pytest.raises(BomError, match="cannot read"):
        load_bom(tmp_path / "absent.yaml")
    (tmp_path / "bad.yaml").write_text("schema: [")
    with pytest.raises(BomError, match="not valid YAML"):
        load_bom(tmp_path / "bad.yaml")


def test_the_image_catalog_knows_only_the_cluster_files_roles() -> None:
    from kubexms.artifacts._images import _parse_catalog

    text = (
        "schema: 1\nimages:\n  pause:\n    image: x/pause\n    phase: p\n"
        "    roles: [master, toaster]\n"
    )
    with pytest.raises(BomError, match=r"image pause: unknown role\(s\) toaster"):
        _parse_catalog(text, "images.yaml")
    good = _parse_catalog(text.replace("toaster", "worker"), "images.yaml")
    assert good["pause"].roles == {"master", "worker"}
