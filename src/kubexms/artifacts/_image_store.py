"""Container images in the artifact store: OCI archives under ``<store>/images/``.

``images.json`` records, per image, its archive, the manifest digest seen when it was pulled
(checked again when it is imported on a host or pushed to a registry), the archive's sha256 and
the roles of the hosts that run it (so each host gets only its own images).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tarfile
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from kubexms.artifacts._errors import ArtifactError
from kubexms.artifacts._images import ImageRef
from kubexms.artifacts._store import ArtifactStore, sha256_of

IMAGES_DIR = "images"
INDEX_FILE = "images.json"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class ImageStoreError(ArtifactError):
    """An image archive is missing, unreadable, or not the image recorded."""


@dataclass(frozen=True)
class StoredImage:
    """One image in the store."""

    ref: str  # full upstream reference, registry/repository:tag
    file: str  # archive name under images/
    digest: str  # manifest digest (sha256:...) seen at pull
    sha256: str  # of the archive file
    roles: tuple[str, ...]

    @property
    def image(self) -> ImageRef:
        return ImageRef.parse(self.ref)


def archive_name(ref: ImageRef) -> str:
    """The archive file of ``ref``: its name with unsafe characters replaced."""
    return _UNSAFE.sub("_", ref.name) + ".oci.tar"


def oci_archive_digest(path: Path) -> str:
    """The digest of the (single) manifest an OCI archive's index.json names."""
    try:
        with tarfile.open(path) as archive:
            member = archive.extractfile("index.json")
            if member is None:
                raise KeyError("index.json")
            index = json.load(member)
        manifests = index["manifests"]
        if len(manifests) != 1:
            raise ValueError(f"{len(manifests)} manifests, expected one")
        digest = str(manifests[0]["digest"])
    except (OSError, KeyError, ValueError, TypeError, tarfile.TarError) as error:
        raise ImageStoreError(f"{path} is not an OCI image archive: {error}") from None
    if not digest.startswith("sha256:"):
        raise ImageStoreError(f"{path}: unexpected digest {digest!r}")
    return digest


def parse_index(data: bytes) -> list[StoredImage]:
    """The entries of an ``images.json``; ValueError when it is not one."""
    try:
        document = json.loads(data)
        entries = [
            StoredImage(
                ref=str(item["ref"]),
                file=str(item["file"]),
                digest=str(item["digest"]),
                sha256=str(item["sha256"]),
                roles=tuple(str(role) for role in item["roles"]),
            )
            for item in document["images"]
        ]
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"not an image index: {error}") from None
    for entry in entries:
        if entry.file != archive_name(entry.image) or "/" in entry.file:
            raise ValueError(f"{entry.ref}: unexpected archive name {entry.file!r}")
    return entries


class ImageStore:
    """The images of an :class:`ArtifactStore`."""

    def __init__(self, store: ArtifactStore) -> None:
        self.root = store.root / IMAGES_DIR
        self._index = self.root / INDEX_FILE

    def entries(self) -> list[StoredImage]:
        if not self._index.is_file():
            return []
        try:
            return parse_index(self._index.read_bytes())
        except (OSError, ValueError) as error:
            raise ImageStoreError(f"{self._index} is unreadable: {error}") from None

    @property
    def index_path(self) -> Path:
        return self._index

    def entry(self, ref: ImageRef) -> StoredImage | None:
        return next((e for e in self.entries() if e.ref == ref.name), None)

    def path_of(self, entry: StoredImage) -> Path:
        return self.root / entry.file

    def is_valid(self, entry: StoredImage) -> bool:
        """The archive is there with its recorded sha256 and manifest digest."""
        path = self.path_of(entry)
        if not path.is_file() or sha256_of(path) != entry.sha256:
            return False
        try:
            return oci_archive_digest(path) == entry.digest
        except ImageStoreError:
            return False

    def for_roles(self, roles: Iterable[str]) -> list[StoredImage]:
        wanted = set(roles)
        return [entry for entry in self.entries() if wanted & set(entry.roles)]

    def add(
        self, ref: ImageRef, archive: Path, roles: Iterable[str], *, digest: str | None = None
    ) -> StoredImage:
        """Move (or copy) ``archive`` into the store as ``ref``; ``digest`` (when known, e.g.
        from the source registry) must be the archive's manifest digest."""
        found = oci_archive_digest(archive)
        wanted = digest or ref.digest
        if wanted is not None and found != wanted:
            raise ImageStoreError(
                f"{ref.name}: the archive holds manifest {found}, expected {wanted}"
            )
        self.root.mkdir(parents=True, exist_ok=True)
        name = archive_name(ref)
        target = self.root / name
        if archive.resolve() != target.resolve():
            partial = target.with_name(target.name + ".part")
            shutil.copyfile(archive, partial)
            os.replace(partial, target)
        entry = StoredImage(ref.name, name, found, sha256_of(target), tuple(sorted(set(roles))))
        self._write([e for e in self.entries() if e.ref != entry.ref] + [entry])
        return entry

    def _write(self, entries: list[StoredImage]) -> None:
        document = {"schema": 1, "images": [asdict(e) for e in sorted(entries, key=_by_ref)]}
        text = json.dumps(document, indent=2) + "\n"
        handle, partial = tempfile.mkstemp(dir=self.root, prefix=".images-")
        with os.fdopen(handle, "w") as out:
            out.write(text)
        os.replace(partial, self._index)


def _by_ref(entry: StoredImage) -> str:
    return entry.ref
