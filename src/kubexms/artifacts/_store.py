"""The local artifact store: ``<work_dir>/artifacts/<component>/<version>/<arch>/<file>``."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from kubexms.artifacts._bom import NOARCH
from kubexms.artifacts._manifest import MANIFEST_NAME, Manifest, ManifestEntry, parse_manifest
from kubexms.artifacts._plan import Artifact

if TYPE_CHECKING:
    from kubexms.config import Cluster

_BLOCK = 1 << 20


def sha256_of(path: Path) -> str:
    """The sha256 of a local file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_BLOCK):
            digest.update(chunk)
    return digest.hexdigest()


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(name, mode)
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


class ArtifactStore:
    """Verified artifacts on the control machine, with a manifest of what is there."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def for_cluster(cls, cluster: Cluster) -> ArtifactStore:
        """The store in the cluster's work dir."""
        return cls(cluster.work_dir / "artifacts")

    def __repr__(self) -> str:
        return f"ArtifactStore({str(self.root)!r})"

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST_NAME

    def path_of(self, item: Artifact | ManifestEntry) -> Path:
        """Where an artifact's file lives in this store."""
        return self.root.joinpath(*item.relpath.split("/"))

    def manifest(self) -> Manifest:
        """What the store holds (an empty manifest for a new store)."""
        try:
            text = self.manifest_path.read_bytes()
        except FileNotFoundError:
            return Manifest()
        return parse_manifest(text, str(self.manifest_path))

    def record(self, entries: list[ManifestEntry], **fields: object) -> Manifest:
        """Add or replace ``entries`` in the manifest (written atomically); the new manifest."""
        manifest = self.manifest().with_entries(entries)
        arches = sorted({entry.arch for entry in manifest.artifacts} - {NOARCH})
        manifest = manifest.model_copy(update={**fields, "arches": arches})
        write_atomic(self.manifest_path, manifest.to_json().encode())
        return manifest

    def is_valid(self, entry: ManifestEntry) -> bool:
        """Whether the entry's file is present with the recorded sha256."""
        path = self.path_of(entry)
        return path.is_file() and sha256_of(path) == entry.sha256
