"""``spec.artifacts`` of the cluster file: mirror, URL rewrites, per-component overrides.

The cluster-file model does not own this section yet, so it is read defensively: a pydantic
model, a plain mapping or nothing at all are accepted, and every field has a default.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from kubexms.artifacts._bom import ChecksumUrlTemplate, FileTemplate, Sha256, UrlTemplate
from kubexms.artifacts._errors import BomError

DEFAULT_REMOTE_DIR = "/opt/kubexms/artifacts"


class _SettingsModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


class ComponentOverride(_SettingsModel):
    """Replace what the BOM says about one component.

    ``sha256`` maps an architecture (``amd64``, ``arm64``, ``noarch``) to the digest to trust;
    it applies to the version in use, so set ``version`` with it when pinning another release.
    """

    version: str | None = None
    file: FileTemplate | None = None
    url: UrlTemplate | None = None
    checksum_url: ChecksumUrlTemplate | None = None
    sha256: dict[str, Sha256] = Field(default_factory=dict)

    @field_validator("sha256")
    @classmethod
    def _known_arches(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = set(value) - {"amd64", "arm64", "noarch"}
        if unknown:
            raise ValueError(f"unknown architecture(s) {', '.join(sorted(unknown))}")
        return value


class ArtifactSettings(_SettingsModel):
    """How artifacts are fetched and placed.

    ``mirror``: a base URL (``https://…`` or ``file:///dir``) holding files in kubexms' own
    layout ``<component>/<version>/<arch>/<file>`` (a copy of another machine's work dir
    ``artifacts/``); when set, nothing is fetched from the upstream URLs.
    ``urlRewrites``: upstream URL prefix → replacement (a proxy or a mirror of the upstream
    paths); it applies to published checksum files too.
    """

    mirror: str | None = None
    url_rewrites: dict[str, str] = Field(default_factory=dict)
    offline_bundle: Path | None = None
    overrides: dict[str, ComponentOverride] = Field(default_factory=dict)
    download_concurrency: int = Field(default=4, ge=1, le=64)
    upload_concurrency: int = Field(default=8, ge=1, le=256)
    remote_dir: str = DEFAULT_REMOTE_DIR

    @field_validator("mirror")
    @classmethod
    def _mirror_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://", "file://")):
            raise ValueError(f"mirror {value!r} must be an http(s):// or file:// URL")
        return value

    @field_validator("remote_dir")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/") or "\x00" in value:
            raise ValueError(f"remoteDir {value!r} must be an absolute path")
        return value.rstrip("/") or "/"

    def merged(self, **changes: Any) -> ArtifactSettings:
        """A copy with the non-None ``changes`` applied (command-line options over the file)."""
        data = self.model_dump()
        data.update({key: value for key, value in changes.items() if value is not None})
        return ArtifactSettings.model_validate(data)


def parse_artifact_settings(data: object, source: str = "spec.artifacts") -> ArtifactSettings:
    """Settings from a mapping (YAML/JSON shape); BomError naming each bad field."""
    if data is None:
        return ArtifactSettings()
    if isinstance(data, BaseModel):
        data = data.model_dump(by_alias=True, exclude_none=True)
    if not isinstance(data, Mapping):
        raise BomError(f"{source} must be a mapping")
    try:
        return ArtifactSettings.model_validate(dict(data))
    except ValidationError as exc:
        details = "; ".join(
            f"{source}.{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in exc.errors()
        )
        raise BomError(details) from None


def artifact_settings(cluster: object) -> ArtifactSettings:
    """``spec.artifacts`` of a cluster, or the defaults when the section does not exist."""
    spec = getattr(cluster, "spec", None)
    return parse_artifact_settings(getattr(spec, "artifacts", None))
