"""Offline bundles carry the store's container images, verified like the binaries."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from kubexms.artifacts import (
    ArtifactStore,
    BundleError,
    ImageRef,
    ImageStore,
    create_bundle,
    import_bundle,
)
from kubexms.config import Cluster
from tests.fixtures.artifacts.etcd_release import EtcdRelease
from tests.fixtures.artifacts.server import ArtifactServer
from tests.unit.artifacts.test_bundle import TOP, _filled_store

REF = ImageRef.parse("registry.k8s.io/pause:3.10")


def _oci_archive(path: Path) -> str:
    """A one-blob OCI archive; its manifest digest."""
    manifest = json.dumps({"schemaVersion": 2, "layers": []}).encode()
    digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    index = {"schemaVersion": 2, "manifests": [{"digest": digest, "size": len(manifest)}]}
    with tarfile.open(path, "w") as archive:
        for name, data in (
            ("index.json", json.dumps(index).encode()),
            (f"blobs/sha256/{digest[7:]}", manifest),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return digest


async def test_images_travel_in_the_bundle(
    server: ArtifactServer, etcd_release: EtcdRelease, one_node: Cluster, tmp_path: Path
) -> None:
    store, plan = await _filled_store(server, etcd_release, one_node)
    digest = _oci_archive(tmp_path / "pause.tar")
    ImageStore(store).add(REF, tmp_path / "pause.tar", ["master", "worker"])
    output = tmp_path / "bundle.tar.gz"
    create_bundle(store, output, plan=plan)  # type: ignore[arg-type]
    with tarfile.open(output) as archive:
        assert f"{TOP}/images/images.json" in archive.getnames()

    target = ArtifactStore(tmp_path / "offline")
    import_bundle(output, target)
    (entry,) = ImageStore(target).entries()
    assert entry.ref == REF.name
    assert entry.digest == digest
    assert entry.roles == ("master", "worker")
    assert ImageStore(target).is_valid(entry)


async def test_a_tampered_image_in_a_bundle_imports_nothing(
    server: ArtifactServer, etcd_release: EtcdRelease, one_node: Cluster, tmp_path: Path
) -> None:
    store, plan = await _filled_store(server, etcd_release, one_node)
    _oci_archive(tmp_path / "pause.tar")
    entry = ImageStore(store).add(REF, tmp_path / "pause.tar", ["worker"])
    output = tmp_path / "bundle.tar.gz"
    create_bundle(store, output, plan=plan)  # type: ignore[arg-type]
    tampered = tmp_path / "tampered.tar.gz"
    with tarfile.open(output) as source, tarfile.open(tampered, "w:gz") as out:
        for member in source:
            data = source.extractfile(member)
            body = data.read() if data is not None else b""
            if member.name.endswith(entry.file):
                body += b"\0" * 512
                member.size = len(body)
            out.addfile(member, io.BytesIO(body))
    target = ArtifactStore(tmp_path / "offline")
    with pytest.raises(BundleError, match=r"image registry\.k8s\.io/pause:3\.10 has sha256"):
        import_bundle(tampered, target)
    assert ImageStore(target).entries() == []
    assert target.manifest().artifacts == []
