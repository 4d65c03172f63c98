"""Where artifacts go on hosts, and what placing them reports.

The placing itself is Engine steps (``kubexms.steps.PlaceArtifact``, ``ArtifactsModule`` and
``distribute``), so uploads share a run's limits, retries, events and checkpoints.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from kubexms.artifacts._errors import ArtifactError, DistributionError
from kubexms.artifacts._manifest import ManifestEntry
from kubexms.artifacts._settings import DEFAULT_REMOTE_DIR


@dataclass(frozen=True, slots=True)
class Placement:
    """One artifact on one host: where it is and whether it was uploaded just now."""

    host: str
    component: str
    version: str
    arch: str
    remote_path: str
    sha256: str
    uploaded: bool


def remote_path_of(entry: ManifestEntry, remote_dir: str = DEFAULT_REMOTE_DIR) -> str:
    """``<remote_dir>/<component>/<version>/<file>``: a host has one architecture."""
    return posixpath.join(remote_dir, entry.component, entry.version, entry.file)


class DistributionFailedError(ArtifactError):
    """Distribution failed on several hosts; ``errors`` has one error per host."""

    def __init__(self, errors: list[DistributionError]) -> None:
        lines = "\n".join(f"  - {error}" for error in errors)
        super().__init__(f"artifacts could not be placed on {len(errors)} hosts:\n{lines}")
        self.errors = errors
