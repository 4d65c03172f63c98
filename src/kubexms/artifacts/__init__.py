"""Artifacts: every binary and manifest a cluster needs, prepared and verified on the control
machine, then placed on exactly the hosts that need them.

- ``load_bom`` / ``default_bom``: the bill of materials (``data/bom.yaml``): per component its
  release URL pattern, published checksum file, and sha256 pinned from named sources.
- ``plan_artifacts(cluster, host_arches)``: what this cluster needs, per architecture;
  ``host_architectures(cluster)`` finds the architectures (``arch:``, facts, or ``--arch``).
- ``download_artifacts(plan, store, settings)``: parallel, resumable, verified, atomic;
  ``prepare_artifacts`` does that, or imports ``spec.artifacts.offlineBundle`` instead.
- ``create_bundle`` / ``import_bundle``: the offline bundle, verified whole before use.
- ``remote_path_of``, ``Placement``: where artifacts go on hosts; the placing itself is Engine
  steps in ``kubexms.steps`` (``PlaceArtifact``, ``ArtifactsModule``, ``distribute``).
- ``cluster_images`` / ``sandbox_image``: the container images a cluster needs
  (``data/images.yaml``); ``ImageStore``: their OCI archives in the store, with the
  manifest digest seen at pull.
"""

from kubexms.artifacts._arches import check_arches, host_architectures
from kubexms.artifacts._bom import (
    ARCHES,
    NOARCH,
    Bom,
    ComponentSpec,
    Pin,
    Source,
    default_bom,
    load_bom,
    minor_of,
    normalize_version,
    parse_bom,
)
from kubexms.artifacts._bundle import create_bundle, import_bundle, verify_store
from kubexms.artifacts._checksums import parse_checksum_file
from kubexms.artifacts._distribute import (
    DistributionFailedError,
    Placement,
    remote_path_of,
)
from kubexms.artifacts._download import (
    DownloadFailedError,
    DownloadResult,
    download_artifacts,
    prepare_artifacts,
)
from kubexms.artifacts._errors import (
    ArtifactError,
    BomError,
    BundleError,
    ChecksumMismatchError,
    ChecksumUnavailableError,
    DistributionError,
    DownloadError,
)
from kubexms.artifacts._fetch import fetch_to, part_path
from kubexms.artifacts._image_store import (
    ImageStore,
    ImageStoreError,
    StoredImage,
    archive_name,
    oci_archive_digest,
)
from kubexms.artifacts._images import (
    ClusterImage,
    ImageRef,
    ImageSpec,
    cluster_images,
    image_catalog,
    registry_host,
    registry_port,
    sandbox_image,
)
from kubexms.artifacts._manifest import MANIFEST_NAME, Manifest, ManifestEntry
from kubexms.artifacts._phase import FetchArtifacts, component_versions
from kubexms.artifacts._plan import OVERRIDE_SOURCE, Artifact, ArtifactPlan, plan_artifacts
from kubexms.artifacts._settings import (
    DEFAULT_REMOTE_DIR,
    ArtifactSettings,
    ComponentOverride,
    artifact_settings,
    parse_artifact_settings,
)
from kubexms.artifacts._store import ArtifactStore, sha256_of

__all__ = [
    "ARCHES",
    "DEFAULT_REMOTE_DIR",
    "MANIFEST_NAME",
    "NOARCH",
    "OVERRIDE_SOURCE",
    "Artifact",
    "ArtifactError",
    "ArtifactPlan",
    "ArtifactSettings",
    "ArtifactStore",
    "Bom",
    "BomError",
    "BundleError",
    "ChecksumMismatchError",
    "ChecksumUnavailableError",
    "ClusterImage",
    "ComponentOverride",
    "ComponentSpec",
    "DistributionError",
    "DistributionFailedError",
    "DownloadError",
    "DownloadFailedError",
    "DownloadResult",
    "FetchArtifacts",
    "ImageRef",
    "ImageSpec",
    "ImageStore",
    "ImageStoreError",
    "Manifest",
    "ManifestEntry",
    "Pin",
    "Placement",
    "Source",
    "StoredImage",
    "archive_name",
    "artifact_settings",
    "check_arches",
    "cluster_images",
    "component_versions",
    "create_bundle",
    "default_bom",
    "download_artifacts",
    "fetch_to",
    "host_architectures",
    "image_catalog",
    "import_bundle",
    "load_bom",
    "minor_of",
    "normalize_version",
    "oci_archive_digest",
    "parse_artifact_settings",
    "parse_bom",
    "parse_checksum_file",
    "part_path",
    "plan_artifacts",
    "prepare_artifacts",
    "registry_host",
    "registry_port",
    "remote_path_of",
    "sandbox_image",
    "sha256_of",
    "verify_store",
]
