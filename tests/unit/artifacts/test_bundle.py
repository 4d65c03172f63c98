"""Offline bundles: bundle → import round trip, and every way a bundle can be refused."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from kubexms.artifacts import (
    ArtifactError,
    ArtifactStore,
    BundleError,
    Manifest,
    ManifestEntry,
    create_bundle,
    download_artifacts,
    import_bundle,
    parse_artifact_settings,
    plan_artifacts,
    prepare_artifacts,
    sha256_of,
    verify_store,
)
from kubexms.config import Cluster
from tests.fixtures.artifacts.etcd_release import EtcdRelease
from tests.fixtures.artifacts.server import ArtifactServer

TOP = "kubexms-artifacts"


async def _filled_store(
    server: ArtifactServer, release: EtcdRelease, cluster: Cluster
) -> tuple[ArtifactStore, object]:
    """A store holding the etcd release and a small kube-proxy-like binary."""
    binary = b"#!/bin/sh\necho helper\n"
    server.publish(f"etcd/{release.file}", release.path.read_bytes())
    server.publish("bin/crictl-v1.31.1-linux-amd64.tar.gz", binary)
    settings = parse_artifact_settings(
        {
            "overrides": {
                "etcd": {
                    "version": release.version,
                    "url": server.url("etcd/{file}"),
                    "sha256": {"amd64": release.sha256},
                },
                "crictl": {
                    "url": server.url("bin/{file}"),
                    "sha256": {"amd64": hashlib.sha256(binary).hexdigest()},
                },
            }
        }
    )
    plan = plan_artifacts(cluster, {"n1": ("amd64",)}, settings=settings).select(["etcd", "crictl"])
    store = ArtifactStore.for_cluster(cluster)
    await download_artifacts(plan, store, settings)
    return store, plan


async def test_bundle_then_import_round_trip(
    server: ArtifactServer, etcd_release: EtcdRelease, one_node: Cluster, tmp_path: Path
) -> None:
    store, plan = await _filled_store(server, etcd_release, one_node)
    output = tmp_path / "out" / "kubexms-artifacts.tar.gz"

    manifest = create_bundle(store, output, plan=plan)  # type: ignore[arg-type]

    assert output.is_file()
    assert [entry.component for entry in manifest.artifacts] == ["crictl", "etcd"]
    assert manifest.arches == ["amd64"]
    assert manifest.cluster == "arts"
    with tarfile.open(output) as archive:
        names = archive.getnames()
        assert names[0] == f"{TOP}/manifest.json"
        inner = json.loads(archive.extractfile(names[0]).read())  # type: ignore[union-attr]
    assert {entry["sha256"] for entry in inner["artifacts"]} == {
        entry.sha256 for entry in manifest.artifacts
    }
    assert f"{TOP}/etcd/{etcd_release.version}/amd64/{etcd_release.file}" in names

    target = ArtifactStore(tmp_path / "offline")
    imported = import_bundle(output, target)

    assert imported.artifacts == manifest.artifacts
    assert target.manifest().artifacts == manifest.artifacts
    etcd = target.path_of(manifest.artifacts[1])
    assert sha256_of(etcd) == etcd_release.sha256
    assert verify_store(target) == []
    assert not list(target.root.glob(".import-*"))


def _rewrite(
    bundle: Path, out: Path, change: dict[str, bytes | None], extra: list[tarfile.TarInfo]
) -> None:
    """Copy a bundle, replacing (or dropping, with None) members and adding others."""
    with tarfile.open(bundle) as source, tarfile.open(out, "w:gz") as target:
        for member in source.getmembers():
            if member.name in change:
                data = change[member.name]
                if data is None:
                    continue
                member.size = len(data)
                target.addfile(member, io.BytesIO(data))
            else:
                target.addfile(member, source.extractfile(member))
        for info in extra:
            target.addfile(info, io.BytesIO(b"x" * info.size) if info.isfile() else None)


@pytest.fixture
async def bundle(
    server: ArtifactServer, etcd_release: EtcdRelease, one_node: Cluster, tmp_path: Path
) -> Path:
    store, plan = await _filled_store(server, etcd_release, one_node)
    output = tmp_path / "good.tar.gz"
    create_bundle(store, output, plan=plan)  # type: ignore[arg-type]
    return output


def _etcd_member(release: EtcdRelease) -> str:
    return f"{TOP}/etcd/{release.version}/amd64/{release.file}"


def _refused(bundle: Path, tmp_path: Path, match: str) -> None:
    target = ArtifactStore(tmp_path / "target")
    with pytest.raises(BundleError, match=match):
        import_bundle(bundle, target)
    # Nothing was imported, and no staging directory was left behind.
    assert target.manifest().artifacts == []
    if target.root.exists():
        assert list(target.root.iterdir()) == []


def test_a_tampered_file_is_refused(
    bundle: Path, etcd_release: EtcdRelease, tmp_path: Path
) -> None:
    original = etcd_release.path.read_bytes()
    tampered = original[:1000] + b"\x00" + original[1001:]
    bad = tmp_path / "bad.tar.gz"
    _rewrite(bundle, bad, {_etcd_member(etcd_release): tampered}, [])
    _refused(bad, tmp_path, "was tampered with or damaged")


def test_a_manifest_that_contradicts_the_bom_is_refused(tmp_path: Path) -> None:
    fake = b"not really runc\n"
    entry = ManifestEntry(
        component="runc",
        version="v1.2.9",
        arch="amd64",
        file="runc.amd64",
        sha256=hashlib.sha256(fake).hexdigest(),
        size=len(fake),
        url="https://github.com/opencontainers/runc/releases/download/v1.2.9/runc.amd64",
        checksum_source="made up",
    )
    manifest = Manifest(arches=["amd64"], artifacts=[entry])
    path = tmp_path / "forged.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for name, data in [
            (f"{TOP}/manifest.json", manifest.to_json().encode()),
            (f"{TOP}/{entry.relpath}", fake),
        ]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    _refused(path, tmp_path, "bill of materials pins b21fda1d")


@pytest.mark.parametrize(
    ("kind", "match"),
    [
        ("unlisted", "is not in the manifest"),
        ("traversal", "is not in the manifest"),
        ("symlink", "is not in the manifest|not a regular file"),
        ("missing", "listed but missing"),
        ("manifest-not-first", "the first member must be"),
        ("bad-manifest", "invalid manifest"),
    ],
)
def test_malformed_bundles_are_refused(
    bundle: Path, etcd_release: EtcdRelease, tmp_path: Path, kind: str, match: str
) -> None:
    bad = tmp_path / f"{kind}.tar.gz"
    extra: list[tarfile.TarInfo] = []
    change: dict[str, bytes | None] = {}
    if kind == "unlisted":
        info = tarfile.TarInfo(f"{TOP}/etcd/extra.sh")
        info.size = 3
        extra.append(info)
    elif kind == "traversal":
        info = tarfile.TarInfo(f"{TOP}/../../etc/cron.d/evil")
        info.size = 3
        extra.append(info)
    elif kind == "symlink":
        info = tarfile.TarInfo(f"{TOP}/etcd/link")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/shadow"
        extra.append(info)
    elif kind == "missing":
        change[_etcd_member(etcd_release)] = None
    elif kind == "bad-manifest":
        change[f"{TOP}/manifest.json"] = b'{"format": 1, "artifacts": [{"component": "../x"}]}'
    if kind == "manifest-not-first":
        with tarfile.open(bundle) as source, tarfile.open(bad, "w:gz") as target:
            members = source.getmembers()
            for member in [*members[1:], members[0]]:
                target.addfile(member, source.extractfile(member))
    else:
        _rewrite(bundle, bad, change, extra)
    _refused(bad, tmp_path, match)


def test_not_a_bundle_at_all(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"definitely not gzip")
    _refused(junk, tmp_path, "not a tar.gz archive|truncated")
    _refused(tmp_path / "absent.tar.gz", tmp_path, "no such file")
    half = tmp_path / "half.tar.gz"
    half.write_bytes(b"")
    _refused(half, tmp_path, "not a tar.gz archive|truncated|empty")


async def test_bundling_refuses_missing_or_changed_files(
    server: ArtifactServer, etcd_release: EtcdRelease, one_node: Cluster, tmp_path: Path
) -> None:
    store, plan = await _filled_store(server, etcd_release, one_node)
    entry = store.manifest().artifacts[0]
    store.path_of(entry).write_bytes(b"changed on disk")
    with pytest.raises(BundleError, match="differs from its recorded sha256"):
        create_bundle(store, tmp_path / "x.tar.gz", plan=plan)  # type: ignore[arg-type]
    assert not (tmp_path / "x.tar.gz").exists()
    assert verify_store(store) == [entry.relpath]
    full = plan_artifacts(one_node, {"n1": ("amd64",)})
    with pytest.raises(BundleError, match="run `kubexms artifact download"):
        create_bundle(store, tmp_path / "y.tar.gz", plan=full)
    with pytest.raises(BundleError, match="holds no artifacts"):
        create_bundle(ArtifactStore(tmp_path / "empty"), tmp_path / "z.tar.gz")


async def test_an_offline_bundle_setting_imports_instead_of_downloading(
    server: ArtifactServer, etcd_release: EtcdRelease, one_node: Cluster, tmp_path: Path
) -> None:
    store, plan = await _filled_store(server, etcd_release, one_node)
    bundle = tmp_path / "offline.tar.gz"
    create_bundle(store, bundle, plan=plan)  # type: ignore[arg-type]
    served = len(server.requests)
    settings = parse_artifact_settings({"offlineBundle": str(bundle)})
    target = ArtifactStore(tmp_path / "air-gapped")

    results = await prepare_artifacts(plan, target, settings)  # type: ignore[arg-type]

    assert {result.artifact.component for result in results} == {"etcd", "crictl"}
    assert len(server.requests) == served  # nothing fetched
    assert verify_store(target) == []
    full = plan_artifacts(one_node, {"n1": ("amd64",)})
    with pytest.raises(ArtifactError, match=r"lacks kubeadm v1\.31\.4 \(amd64\)"):
        await prepare_artifacts(full, ArtifactStore(tmp_path / "other"), settings)
