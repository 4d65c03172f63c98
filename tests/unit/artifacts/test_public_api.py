"""The public names of kubexms.artifacts, pinned so a change to them is deliberate."""

from __future__ import annotations

import kubexms.artifacts

EXPECTED = {
    "ImageStore",
    "ImageStoreError",
    "StoredImage",
    "archive_name",
    "oci_archive_digest",
    "ClusterImage",
    "ImageRef",
    "ImageSpec",
    "cluster_images",
    "image_catalog",
    "registry_host",
    "registry_port",
    "sandbox_image",
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
    "ComponentOverride",
    "ComponentSpec",
    "DistributionError",
    "DistributionFailedError",
    "DownloadError",
    "DownloadFailedError",
    "DownloadResult",
    "FetchArtifacts",
    "Manifest",
    "ManifestEntry",
    "Pin",
    "Placement",
    "Source",
    "artifact_settings",
    "check_arches",
    "component_versions",
    "create_bundle",
    "default_bom",
    "download_artifacts",
    "fetch_to",
    "host_architectures",
    "import_bundle",
    "load_bom",
    "minor_of",
    "normalize_version",
    "parse_artifact_settings",
    "parse_bom",
    "parse_checksum_file",
    "part_path",
    "plan_artifacts",
    "prepare_artifacts",
    "remote_path_of",
    "sha256_of",
    "verify_store",
}


def test_all_is_exactly_the_public_api() -> None:
    assert set(kubexms.artifacts.__all__) == EXPECTED
    assert kubexms.artifacts.__all__ == sorted(kubexms.artifacts.__all__, key=_ruff_order)
    for name in EXPECTED:
        assert getattr(kubexms.artifacts, name) is not None


def _ruff_order(name: str) -> tuple[int, str]:
    # Constants, then classes, then functions: the order ruff's RUF022 keeps.
    if name.isupper():
        return (0, name)
    return (1, name) if name[0].isupper() else (2, name)
