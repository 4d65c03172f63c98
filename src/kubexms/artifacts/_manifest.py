"""The manifest of a store or bundle: every file with its version, arch, sha256 and origin."""

from __future__ import annotations

import json
import re
from pathlib import PurePosixPath
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.alias_generators import to_camel

from kubexms import __version__
from kubexms.artifacts._bom import Sha256
from kubexms.artifacts._errors import BundleError

MANIFEST_NAME = "manifest.json"

# One path component of a store: no separators, no "." or "..", nothing a shell would mangle.
_PART = re.compile(r"[A-Za-z0-9_+][A-Za-z0-9._+-]*")


def _safe_part(value: str, what: str) -> str:
    if not _PART.fullmatch(value) or value in (".", ".."):
        raise ValueError(f"{what} {value!r} is not a safe file-name component")
    return value


class _ManifestModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


class ManifestEntry(_ManifestModel):
    """One file: ``relpath`` is ``<component>/<version>/<arch>/<file>``."""

    component: str
    version: str
    arch: str
    file: str
    sha256: Sha256
    size: int = Field(ge=0)
    url: str
    checksum_source: str
    executable: bool = False

    @model_validator(mode="after")
    def _safe(self) -> ManifestEntry:
        for what in ("component", "version", "arch", "file"):
            _safe_part(getattr(self, what), what)
        return self

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.component, self.version, self.arch)

    @property
    def relpath(self) -> str:
        return str(PurePosixPath(self.component, self.version, self.arch, self.file))

    @property
    def mode(self) -> int:
        return 0o755 if self.executable else 0o644


class Manifest(_ManifestModel):
    """What a store or bundle holds."""

    format: Literal[1] = 1
    created_by: str = f"kubexms {__version__}"
    cluster: str | None = None
    kubernetes_version: str | None = None
    arches: list[str] = Field(default_factory=list)
    artifacts: list[ManifestEntry] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> Manifest:
        seen: set[tuple[str, str, str]] = set()
        for entry in self.artifacts:
            if entry.key in seen:
                raise ValueError(f"{entry.relpath} is listed twice")
            seen.add(entry.key)
        return self

    def entry(self, key: tuple[str, str, str]) -> ManifestEntry | None:
        """The entry for (component, version, arch), if any."""
        return next((entry for entry in self.artifacts if entry.key == key), None)

    def with_entries(self, entries: list[ManifestEntry]) -> Manifest:
        """A copy where ``entries`` replace those with the same key, the rest kept."""
        replaced = {entry.key: entry for entry in entries}
        kept = [entry for entry in self.artifacts if entry.key not in replaced]
        merged = sorted([*kept, *replaced.values()], key=lambda entry: entry.key)
        return self.model_copy(update={"artifacts": merged})

    def to_json(self) -> str:
        return json.dumps(self.model_dump(by_alias=True, mode="json"), indent=2) + "\n"


def parse_manifest(text: str | bytes, source: str) -> Manifest:
    """A manifest from its JSON; BundleError naming what is wrong otherwise."""
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BundleError(f"{source}: the manifest is not valid JSON: {exc}") from None
    try:
        return Manifest.model_validate(data)
    except ValidationError as exc:
        details = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or '<top>'}: {error['msg']}"
            for error in exc.errors()
        )
        raise BundleError(f"{source}: invalid manifest: {details}") from None
