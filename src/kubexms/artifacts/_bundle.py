"""Offline bundles: one tar.gz with a manifest and every file, verified whole on import.

Layout inside the archive: ``kubexms-artifacts/manifest.json`` first, then
``kubexms-artifacts/<component>/<version>/<arch>/<file>`` for every manifest entry. When the
store holds container images: ``kubexms-artifacts/images/images.json``, then
``kubexms-artifacts/images/<archive>`` for each (checked against that index's sha256, and the
manifest digest inside each archive against the index's). Import accepts nothing else: no
links, no unlisted or duplicate members, no path outside that layout, and every file must
have the manifest's size and sha256 (and, where the BOM pins the artifact, the BOM's sha256)
before anything lands in the store.
"""

from __future__ import annotations

import hashlib
import io
import os
import secrets
import shutil
import tarfile
import tempfile
from collections.abc import Iterable
from pathlib import Path

from kubexms.artifacts._bom import Bom, default_bom
from kubexms.artifacts._errors import BundleError
from kubexms.artifacts._image_store import (
    IMAGES_DIR,
    INDEX_FILE,
    ImageStore,
    ImageStoreError,
    StoredImage,
    parse_index,
)
from kubexms.artifacts._manifest import MANIFEST_NAME, Manifest, ManifestEntry, parse_manifest
from kubexms.artifacts._plan import ArtifactPlan
from kubexms.artifacts._store import ArtifactStore

TOP = "kubexms-artifacts"
_BLOCK = 1 << 20


def _entries_for(plan: ArtifactPlan | None, store: ArtifactStore) -> list[ManifestEntry]:
    manifest = store.manifest()
    if plan is None:
        return list(manifest.artifacts)
    entries: list[ManifestEntry] = []
    missing: list[str] = []
    for artifact in plan.artifacts:
        entry = manifest.entry(artifact.key)
        if entry is None or entry.file != artifact.file:
            missing.append(artifact.describe())
        else:
            entries.append(entry)
    if missing:
        raise BundleError(
            f"the store {store.root} lacks {', '.join(missing)}; run `kubexms artifact "
            f"download -f <cluster.yaml>` first"
        )
    return entries


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    archive.addfile(info, io.BytesIO(data))


def create_bundle(
    store: ArtifactStore, output: Path, *, plan: ArtifactPlan | None = None
) -> Manifest:
    """Write the store's artifacts (those of ``plan``, or all) and a manifest to ``output``.

    Every file is verified against the store's manifest first; a file that changed on disk
    is refused rather than bundled. The archive appears at ``output`` only when complete.
    """
    entries = _entries_for(plan, store)
    if not entries:
        raise BundleError(f"the store {store.root} holds no artifacts to bundle")
    corrupt = [entry.relpath for entry in entries if not store.is_valid(entry)]
    if corrupt:
        raise BundleError(
            f"{', '.join(corrupt)} in {store.root} is missing or differs from its recorded "
            f"sha256; run `kubexms artifact download` again to replace it"
        )
    source = store.manifest()
    manifest = Manifest(
        cluster=plan.cluster if plan is not None else source.cluster,
        kubernetes_version=(
            plan.kubernetes_version if plan is not None else source.kubernetes_version
        ),
        arches=sorted({entry.arch for entry in entries}),
        artifacts=sorted(entries, key=lambda entry: entry.key),
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{output.name}.", dir=output.parent)
    os.close(handle)
    try:
        with tarfile.open(name, "w:gz") as archive:
            _add_bytes(archive, f"{TOP}/{MANIFEST_NAME}", manifest.to_json().encode())
            for entry in manifest.artifacts:
                info = archive.gettarinfo(str(store.path_of(entry)), f"{TOP}/{entry.relpath}")
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                info.mode = entry.mode
                with store.path_of(entry).open("rb") as data:
                    archive.addfile(info, data)
            _add_images(archive, ImageStore(store))
        os.chmod(name, 0o644)
        os.replace(name, output)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return manifest


def _add_images(archive: tarfile.TarFile, images: ImageStore) -> None:
    entries = images.entries()
    if not entries:
        return
    broken = [entry.ref for entry in entries if not images.is_valid(entry)]
    if broken:
        raise BundleError(
            f"image(s) {', '.join(broken)} in {images.root} are missing or differ from what "
            "was pulled; run `kubexms artifact images pull` again"
        )
    _add_bytes(archive, f"{TOP}/{IMAGES_DIR}/{INDEX_FILE}", images.index_path.read_bytes())
    for entry in entries:
        path = images.path_of(entry)
        info = archive.gettarinfo(str(path), f"{TOP}/{IMAGES_DIR}/{entry.file}")
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        info.mode = 0o644
        with path.open("rb") as data:
            archive.addfile(info, data)


def _import_images(staging: Path, entries: list[StoredImage], store: ArtifactStore) -> None:
    images = ImageStore(store)
    for entry in entries:
        try:
            images.add(entry.image, staging / entry.file, entry.roles, digest=entry.digest)
        except ImageStoreError as error:
            raise BundleError(f"image {entry.ref}: {error}") from None


def _check_against_bom(manifest: Manifest, bom: Bom, bundle: Path) -> None:
    """A bundle cannot lower the bar: where the BOM pins an artifact, its sha256 must agree."""
    for entry in manifest.artifacts:
        pinned = bom.pinned(entry.component, entry.version, entry.arch)
        if pinned is None:
            continue
        if pinned[0] != entry.sha256:
            raise BundleError(
                f"{bundle}: the manifest gives {entry.relpath} sha256 {entry.sha256}, but the "
                f"bill of materials pins {pinned[0]} ({pinned[1]}); the bundle was tampered "
                f"with or built from other files. Nothing was imported"
            )


def _copy_member(source: io.BufferedReader | None, out: Path, name: str) -> tuple[str, int]:
    if source is None:
        raise BundleError(f"{name} cannot be read from the bundle")
    digest = hashlib.sha256()
    size = 0
    with out.open("wb") as handle:
        while chunk := source.read(_BLOCK):
            handle.write(chunk)
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _members(archive: tarfile.TarFile) -> Iterable[tarfile.TarInfo]:
    try:
        yield from archive
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise BundleError(f"the bundle is truncated or not a tar.gz archive: {exc}") from None


def _open_stream(bundle: Path) -> tarfile.TarFile:
    try:
        # Streaming mode: members are read once, in order, and never seeked back to.
        return tarfile.open(bundle, "r|gz")
    except (tarfile.TarError, OSError) as exc:
        raise BundleError(f"{bundle}: not a tar.gz archive: {exc}") from None


def import_bundle(bundle: Path, store: ArtifactStore, *, bom: Bom | None = None) -> Manifest:
    """Verify ``bundle`` completely, then move its files into ``store``.

    Raises BundleError, importing nothing, when the manifest is missing or invalid, when a
    member is not listed, is listed twice, is not a regular file, or differs from the
    manifest (size or sha256), when a listed file is missing, or when the manifest disagrees
    with a checksum the bill of materials pins.
    """
    bom = bom if bom is not None else default_bom()
    if not bundle.is_file():
        raise BundleError(f"{bundle}: no such file")
    store.root.mkdir(parents=True, exist_ok=True)
    staging = store.root / f".import-{secrets.token_hex(4)}"
    staging.mkdir()
    try:
        with _open_stream(bundle) as archive:
            manifest: Manifest | None = None
            expected: dict[str, ManifestEntry] = {}
            seen: set[str] = set()
            image_index = f"{TOP}/{IMAGES_DIR}/{INDEX_FILE}"
            images: dict[str, StoredImage] | None = None
            image_staging = staging / ".images"
            for member in _members(archive):
                if manifest is None:
                    if member.name != f"{TOP}/{MANIFEST_NAME}" or not member.isfile():
                        raise BundleError(
                            f"{bundle}: the first member must be {TOP}/{MANIFEST_NAME}, "
                            f"found {member.name!r}; this is not a kubexms bundle"
                        )
                    data = archive.extractfile(member)
                    text = data.read(16 << 20) if data is not None else b""
                    manifest = parse_manifest(text, f"{bundle}:{member.name}")
                    _check_against_bom(manifest, bom, bundle)
                    expected = {f"{TOP}/{entry.relpath}": entry for entry in manifest.artifacts}
                    continue
                if member.name == image_index and images is None and member.isfile():
                    data = archive.extractfile(member)
                    try:
                        listed = parse_index(data.read(16 << 20) if data is not None else b"")
                    except ValueError as error:
                        raise BundleError(f"{bundle}: {member.name}: {error}") from None
                    images = {f"{TOP}/{IMAGES_DIR}/{item.file}": item for item in listed}
                    image_staging.mkdir()
                    continue
                if images is not None and member.name in images:
                    if member.name in seen or not member.isfile():
                        raise BundleError(f"{bundle}: {member.name!r} is a duplicate or no file")
                    seen.add(member.name)
                    image = images[member.name]
                    digest, _ = _copy_member(
                        archive.extractfile(member),  # type: ignore[arg-type]
                        image_staging / image.file,
                        member.name,
                    )
                    if digest != image.sha256:
                        raise BundleError(
                            f"{bundle}: image {image.ref} has sha256 {digest}, the index says "
                            f"{image.sha256}; the bundle was tampered with or damaged. "
                            "Nothing was imported"
                        )
                    continue
                entry = expected.get(member.name)
                if entry is None:
                    raise BundleError(f"{bundle}: {member.name!r} is not in the manifest")
                if member.name in seen:
                    raise BundleError(f"{bundle}: {member.name!r} appears twice")
                if not member.isfile():
                    raise BundleError(f"{bundle}: {member.name!r} is not a regular file")
                seen.add(member.name)
                out = staging.joinpath(*entry.relpath.split("/"))
                out.parent.mkdir(parents=True, exist_ok=True)
                digest, size = _copy_member(
                    archive.extractfile(member),  # type: ignore[arg-type]
                    out,
                    member.name,
                )
                if digest != entry.sha256 or size != entry.size:
                    raise BundleError(
                        f"{bundle}: {entry.relpath} has sha256 {digest} ({size} bytes), the "
                        f"manifest says {entry.sha256} ({entry.size} bytes); the bundle was "
                        f"tampered with or damaged. Nothing was imported"
                    )
        if manifest is None:
            raise BundleError(f"{bundle}: the archive is empty")
        missing = sorted((set(expected) | set(images or {})) - seen)
        if missing:
            raise BundleError(f"{bundle}: listed but missing: {', '.join(missing)}")
        for entry in manifest.artifacts:
            target = store.path_of(entry)
            target.parent.mkdir(parents=True, exist_ok=True)
            staged = staging.joinpath(*entry.relpath.split("/"))
            os.chmod(staged, entry.mode)
            os.replace(staged, target)
        store.record(
            list(manifest.artifacts),
            cluster=manifest.cluster,
            kubernetes_version=manifest.kubernetes_version,
        )
        if images:
            _import_images(image_staging, list(images.values()), store)
        return manifest
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def verify_store(store: ArtifactStore) -> list[str]:
    """Paths of store entries whose file is missing or no longer has its sha256."""
    return [entry.relpath for entry in store.manifest().artifacts if not store.is_valid(entry)]
