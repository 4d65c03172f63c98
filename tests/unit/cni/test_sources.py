"""The plugin's upstream manifest comes from the artifact store, only once its sha256 matches."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

import pytest

from kubexms.artifacts import NOARCH, ArtifactStore, ManifestEntry, sha256_of
from kubexms.cni import ManifestError
from kubexms.cni._sources import calico_manifest_from_archive, manifest_version, stored_manifest
from kubexms.config import Cluster, parse_config
from tests.unit.cni.upstream import FIXTURES, kubernetes_version
from tests.unit.config.sample import to_yaml
from tests.unit.kubernetes.sample import cluster_data


def cluster(tmp_path: Path, plugin: str, minor: str = "1.31", **spec: Any) -> Cluster:
    data = cluster_data(version=kubernetes_version(minor))
    data["spec"]["network"] = {"plugin": plugin}
    data["spec"]["global"]["workDir"] = str(tmp_path / "work")
    data["spec"].update(spec)
    return parse_config(to_yaml(data))


def calico_archive(path: Path, members: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def store_with(store: ArtifactStore, component: str, version: str, file: str, path: Path) -> Path:
    entry = ManifestEntry(
        component=component,
        version=version,
        arch=NOARCH,
        file=file,
        sha256=sha256_of(path),
        size=path.stat().st_size,
        url=f"https://example.invalid/{file}",
        checksum_source="test",
    )
    stored = store.path_of(entry)
    stored.parent.mkdir(parents=True, exist_ok=True)
    stored.write_bytes(path.read_bytes())
    store.record([entry])
    return stored


def test_calico_manifest_comes_out_of_its_source_archive(tmp_path: Path) -> None:
    upstream = (FIXTURES / "calico-v3.29.7.yaml").read_bytes()
    archive = calico_archive(
        tmp_path / "calico-v3.29.7.tar.gz",
        {"calico-3.29.7/README.md": b"x", "calico-3.29.7/manifests/calico.yaml": upstream},
    )
    assert calico_manifest_from_archive(archive) == upstream.decode()


@pytest.mark.parametrize(
    "members",
    [
        {"calico-3.29.7/README.md": b"x"},
        {"a/manifests/calico.yaml": b"x", "b/manifests/calico.yaml": b"y"},
        {"manifests/calico.yaml": b"x"},
    ],
)
def test_an_archive_without_one_calico_yaml_is_refused(
    tmp_path: Path, members: dict[str, bytes]
) -> None:
    archive = calico_archive(tmp_path / "c.tar.gz", members)
    with pytest.raises(ManifestError, match=r"expected one file <top>/manifests/calico\.yaml"):
        calico_manifest_from_archive(archive)


def test_a_file_that_is_not_an_archive_is_refused(tmp_path: Path) -> None:
    (tmp_path / "c.tar.gz").write_text("not gzip")
    with pytest.raises(ManifestError, match="cannot read Calico's source archive"):
        calico_manifest_from_archive(tmp_path / "c.tar.gz")


def test_the_version_is_the_boms_for_the_kubernetes_minor(tmp_path: Path) -> None:
    assert manifest_version(cluster(tmp_path, "calico", "1.31"), "calico-manifests") == "v3.29.7"
    assert manifest_version(cluster(tmp_path, "calico", "1.34"), "calico-manifests") == "v3.30.5"


def test_calico_is_read_from_the_store_once_verified(tmp_path: Path) -> None:
    calico = cluster(tmp_path, "calico", "1.33")
    store = ArtifactStore.for_cluster(calico)
    with pytest.raises(ManifestError, match=r"calico-manifests v3\.30\.5 is not in the store"):
        stored_manifest(calico, store)
    upstream = (FIXTURES / "calico-v3.30.5.yaml").read_bytes()
    archive = calico_archive(
        tmp_path / "dl" / "calico-v3.30.5.tar.gz",
        {"calico-3.30.5/manifests/calico.yaml": upstream},
    )
    stored = store_with(store, "calico-manifests", "v3.30.5", "calico-v3.30.5.tar.gz", archive)
    text, source = stored_manifest(calico, store)
    assert text == upstream.decode()
    assert source == f"{stored}:manifests/calico.yaml"
    stored.write_bytes(stored.read_bytes() + b"\0")  # tampered after download
    with pytest.raises(ManifestError, match="differs from its recorded sha256"):
        stored_manifest(calico, store)


def test_flannel_is_the_stored_file(tmp_path: Path) -> None:
    pinned = {"overrides": {"flannel-manifest": {"sha256": {"noarch": "a" * 64}}}}
    flannel = cluster(tmp_path, "flannel", artifacts=pinned)
    store = ArtifactStore.for_cluster(flannel)
    fixture = FIXTURES / "kube-flannel-v0.26.7.yml"
    store_with(store, "flannel-manifest", "v0.26.7", "kube-flannel-v0.26.7.yml", fixture)
    text, _ = stored_manifest(flannel, store)
    assert text == fixture.read_text()


def test_cilium_has_no_manifest(tmp_path: Path) -> None:
    cilium = cluster(tmp_path, "cilium")
    with pytest.raises(ManifestError, match="installed from a Helm chart"):
        stored_manifest(cilium, ArtifactStore.for_cluster(cilium))
