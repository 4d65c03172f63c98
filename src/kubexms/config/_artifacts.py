"""``spec.artifacts``: where the binaries a cluster needs come from, and where they land."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from kubexms.config._base import ConfigModel
from kubexms.config._types import invalid

_SHA256 = re.compile(r"[0-9a-f]{64}")


def _check_sha256(value: str) -> str:
    if not _SHA256.fullmatch(value):
        raise invalid(f"'{value}' is not a sha256 digest (64 lower-case hex digits)")
    return value


def _check_mirror(value: str) -> str:
    if not value.startswith(("https://", "http://", "file://")):
        raise invalid(f"mirror '{value}' must be an http(s):// or file:// URL")
    return value


def _check_remote_dir(value: str) -> str:
    if not value.startswith("/") or "\x00" in value:
        raise invalid(f"remoteDir '{value}' must be an absolute path")
    return value.rstrip("/") or "/"


Sha256 = Annotated[str, AfterValidator(_check_sha256)]


class ArtifactOverride(ConfigModel):
    """Replace what the bill of materials says about one component.

    URL and file templates are checked by ``kubexms.artifacts`` (it knows the placeholders).
    """

    version: str | None = None
    file: str | None = None
    url: str | None = None
    checksum_url: str | None = None
    sha256: dict[Literal["amd64", "arm64", "noarch"], Sha256] = Field(default_factory=dict)


class Artifacts(ConfigModel):
    """How artifacts are fetched (online, mirror, offline bundle) and placed on hosts."""

    mirror: Annotated[str, AfterValidator(_check_mirror)] | None = Field(
        default=None,
        description="A copy of another machine's artifacts/ dir (https:// or file://).",
    )
    url_rewrites: dict[str, str] = Field(
        default_factory=dict, description="Upstream URL prefix -> replacement (proxy, mirror)."
    )
    offline_bundle: Path | None = Field(
        default=None, description="Import this bundle instead of downloading."
    )
    overrides: dict[str, ArtifactOverride] = Field(default_factory=dict)
    download_concurrency: int = Field(default=4, ge=1, le=64)
    upload_concurrency: int = Field(default=8, ge=1, le=256)
    remote_dir: Annotated[str, AfterValidator(_check_remote_dir)] = "/opt/kubexms/artifacts"
