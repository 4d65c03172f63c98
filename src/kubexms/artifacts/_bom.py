"""The bill of materials: components, their release URLs, and sha256 pinned from named sources.

The packaged ``data/bom.yaml`` is the default; `load_bom` reads it (or another file) and checks
it whole, so a typo in a URL template or an unknown source is reported before any download.
"""

from __future__ import annotations

import re
import string
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from kubexms.artifacts._errors import BomError
from kubexms.config import Role
from kubexms.config._hosts import unknown_roles

ARCHES: tuple[str, ...] = ("amd64", "arm64")
"""The architectures the BOM pins checksums for."""

NOARCH = "noarch"
"""The "architecture" of files every host can use (manifests, source archives)."""


# The cluster-file settings a component may depend on, and the values they can take.
CONDITIONS: dict[str, frozenset[str]] = {
    "kubernetes.type": frozenset({"kubeadm", "kubexm"}),
    "etcd.type": frozenset({"kubexm", "kubeadm", "external"}),
    "network.plugin": frozenset({"calico", "flannel", "cilium"}),
    "registry.type": frozenset({"none", "registry"}),
}

_HEX = re.compile(r"[0-9a-f]{64}")
_VERSION = re.compile(r"v?\d+(\.\d+)*([-+.][0-9A-Za-z.+-]+)?")
_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")
_FILE_FIELDS = frozenset({"version", "number", "arch"})
_URL_FIELDS = _FILE_FIELDS | {"file"}
_CHECKSUM_URL_FIELDS = _URL_FIELDS | {"url"}


# The BOM is parsed by every command that plans: libyaml's safe loader where PyYAML has it
# (several times faster than the pure-Python one; the same safe types).
_LOADER: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = getattr(
    yaml, "CSafeLoader", yaml.SafeLoader
)


def normalize_version(version: str) -> str:
    """``1.31.4`` and ``v1.31.4`` both as ``v1.31.4``; anything else is refused."""
    text = version.strip()
    if not _VERSION.fullmatch(text):
        raise BomError(f"{version!r} is not a version like v1.31.4")
    return text if text.startswith("v") else f"v{text}"


def minor_of(version: str) -> str:
    """``v1.31.4`` → ``1.31``."""
    parts = normalize_version(version)[1:].split(".")
    if len(parts) < 2:
        raise BomError(f"{version!r} has no minor version (expected something like v1.31.4)")
    return f"{parts[0]}.{parts[1]}"


def _check_hex(value: str) -> str:
    if not _HEX.fullmatch(value):
        raise ValueError(f"{value!r} is not a sha256 (64 lowercase hex digits)")
    return value


Sha256 = Annotated[str, AfterValidator(_check_hex)]


def template_fields(template: str) -> set[str]:
    """The ``{placeholders}`` of a URL or file template."""
    try:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as exc:
        raise ValueError(f"{template!r} is not a valid template: {exc}") from None


def _check_template(template: str, allowed: frozenset[str]) -> str:
    unknown = template_fields(template) - allowed
    if unknown:
        raise ValueError(
            f"{template!r} uses unknown placeholder(s) {', '.join(sorted(unknown))}; "
            f"allowed: {', '.join(sorted(allowed))}"
        )
    return template


def _check_file_template(template: str) -> str:
    _check_template(template, _FILE_FIELDS)
    if "/" in template or template in ("", ".", ".."):
        raise ValueError(f"file name {template!r} must be a plain name, not a path")
    return template


def _check_url_template(template: str) -> str:
    _check_template(template, _URL_FIELDS)
    if not template.startswith(("https://", "http://", "file://")):
        raise ValueError(f"{template!r} is not an http, https or file URL")
    return template


def _check_checksum_url_template(template: str) -> str:
    _check_template(template, _CHECKSUM_URL_FIELDS)
    if not template.startswith(("https://", "http://", "file://", "{url}")):
        raise ValueError(f"{template!r} is not an http, https or file URL")
    return template


FileTemplate = Annotated[str, AfterValidator(_check_file_template)]
UrlTemplate = Annotated[str, AfterValidator(_check_url_template)]
ChecksumUrlTemplate = Annotated[str, AfterValidator(_check_checksum_url_template)]


class _BomModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


class Source(_BomModel):
    """Where pinned checksums were copied from: a repository, a file in it, a commit."""

    repo: str
    path: str
    commit: str | None = None
    note: str | None = None

    def describe(self) -> str:
        """``repo/path@commit`` for messages and manifests."""
        at = f"@{self.commit}" if self.commit else ""
        return f"{self.repo}/{self.path}{at}"


class Pin(_BomModel):
    """The sha256 of one version of a component, per architecture, and where it came from."""

    source: str
    amd64: Sha256 | None = None
    arm64: Sha256 | None = None
    noarch: Sha256 | None = None

    def for_arch(self, arch: str) -> str | None:
        value: str | None = getattr(self, arch, None) if arch in (*ARCHES, NOARCH) else None
        return value


class ComponentSpec(_BomModel):
    """One downloadable component: which hosts need it, where it is, how to verify it."""

    version_from: Literal["kubernetes", "etcd", "containerd"] | None = Field(
        default=None,
        description="The cluster-file version it follows; otherwise the `releases` table.",
    )
    roles: list[Role] = Field(min_length=1)
    when: dict[str, str] = Field(default_factory=dict)
    executable: bool = False
    per_arch: bool = True
    file: FileTemplate
    url: UrlTemplate
    checksum_url: ChecksumUrlTemplate | None = None
    sha256: dict[str, Pin] = Field(default_factory=dict)

    @field_validator("roles", mode="before")
    @classmethod
    def _known_roles(cls, value: object) -> object:
        # Before the Literal check, so the message names the stranger, not the whole list.
        unknown = unknown_roles(map(str, value)) if isinstance(value, list) else []
        if unknown:
            raise ValueError(f"unknown role(s) {', '.join(sorted(unknown))}")
        return value

    @model_validator(mode="after")
    def _check(self) -> ComponentSpec:

        for key, value in self.when.items():
            if key not in CONDITIONS:
                raise ValueError(f"`when` key {key!r} is not one of {', '.join(CONDITIONS)}")
            if value not in CONDITIONS[key]:
                raise ValueError(f"`when` {key}: {value!r} is not one of {sorted(CONDITIONS[key])}")
        if not self.per_arch and "arch" in template_fields(self.file + self.url):
            raise ValueError("a component with perArch: false cannot use {arch}")
        return self


class Bom(_BomModel):
    """The whole bill of materials."""

    schema_: Literal[1] = Field(alias="schema")
    sources: dict[str, Source]
    releases: dict[str, dict[str, str]]
    components: dict[str, ComponentSpec]

    @model_validator(mode="after")
    def _check_references(self) -> Bom:
        problems: list[str] = []
        for name, component in self.components.items():
            if not _NAME.fullmatch(name):
                problems.append(f"component name {name!r} must be lowercase letters, digits, -")
            for version, pin in component.sha256.items():
                if pin.source not in self.sources:
                    problems.append(f"{name} {version}: unknown source {pin.source!r}")
                if not _VERSION.fullmatch(version) or not version.startswith("v"):
                    problems.append(f"{name}: pinned version {version!r} must look like v1.2.3")
                wanted = ARCHES if component.per_arch else (NOARCH,)
                if not any(pin.for_arch(arch) for arch in wanted):
                    problems.append(f"{name} {version}: no sha256 for {', '.join(wanted)}")
        for minor, versions in self.releases.items():
            for name, version in versions.items():
                if name not in self.components:
                    problems.append(f"releases {minor}: unknown component {name!r}")
                elif self.components[name].version_from is not None:
                    problems.append(
                        f"releases {minor}: {name} follows the cluster file's "
                        f"{self.components[name].version_from} version; remove it here"
                    )
                if not _VERSION.fullmatch(version):
                    problems.append(f"releases {minor}: {name} {version!r} is not a version")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def minors(self) -> list[str]:
        """The Kubernetes minors this BOM has releases for, oldest first."""
        return sorted(self.releases, key=lambda minor: tuple(int(p) for p in minor.split(".")))

    def pinned(self, component: str, version: str, arch: str) -> tuple[str, str] | None:
        """(sha256, source id) pinned for one artifact, or None."""
        spec = self.components.get(component)
        pin = spec.sha256.get(normalize_version(version)) if spec is not None else None
        if pin is None:
            return None
        digest = pin.for_arch(arch)
        return (digest, pin.source) if digest is not None else None


def parse_bom(text: str, source: str = "<bom>") -> Bom:
    """A BOM from YAML text; BomError naming every problem otherwise."""
    try:
        data = yaml.load(text, Loader=_LOADER)  # noqa: S506 (a safe loader: libyaml's)
    except yaml.YAMLError as exc:
        raise BomError(f"{source}: not valid YAML: {exc}") from None
    try:
        return Bom.model_validate(data)
    except ValidationError as exc:
        details = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or '<top>'}: {error['msg']}"
            for error in exc.errors()
        )
        raise BomError(f"{source}: invalid bill of materials: {details}") from None


def load_bom(path: Path | None = None) -> Bom:
    """The BOM in ``path``, or the one packaged with kubexms."""
    if path is None:
        return default_bom()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BomError(f"cannot read {path}: {exc.strerror or exc}") from None
    return parse_bom(text, str(path))


@cache
def default_bom() -> Bom:
    """The packaged BOM (``kubexms/artifacts/data/bom.yaml``), parsed once."""
    text = resources.files("kubexms.artifacts").joinpath("data/bom.yaml").read_text("utf-8")
    return parse_bom(text, "kubexms/artifacts/data/bom.yaml")
