"""Which artifacts a cluster needs: versions resolved, URLs expanded, checksums looked up."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from kubexms.artifacts._bom import (
    NOARCH,
    Bom,
    ComponentSpec,
    default_bom,
    minor_of,
    normalize_version,
)
from kubexms.artifacts._errors import BomError
from kubexms.artifacts._settings import ArtifactSettings, ComponentOverride, artifact_settings

if TYPE_CHECKING:
    from kubexms.config import Cluster

OVERRIDE_SOURCE = "cluster.yaml spec.artifacts.overrides"


@dataclass(frozen=True, slots=True)
class Artifact:
    """One file of one component for one architecture (or ``noarch``).

    ``sha256`` is None when no checksum is pinned: it is then read from ``checksum_url`` at
    download time, or the artifact is refused when that is None too.
    """

    component: str
    version: str
    arch: str
    file: str
    url: str
    checksum_url: str | None
    sha256: str | None
    checksum_source: str | None
    roles: frozenset[str]
    executable: bool

    @property
    def key(self) -> tuple[str, str, str]:
        """(component, version, arch): what identifies the artifact in stores and manifests."""
        return (self.component, self.version, self.arch)

    @property
    def relpath(self) -> str:
        """``<component>/<version>/<arch>/<file>``, the layout of stores, mirrors and bundles."""
        return str(PurePosixPath(self.component, self.version, self.arch, self.file))

    @property
    def mode(self) -> int:
        """File mode on disk and on hosts."""
        return 0o755 if self.executable else 0o644

    def describe(self) -> str:
        return f"{self.component} {self.version} ({self.arch})"


@dataclass(frozen=True)
class ArtifactPlan:
    """Everything a cluster needs, and which hosts need what."""

    cluster: str
    kubernetes_version: str
    artifacts: tuple[Artifact, ...]
    host_roles: Mapping[str, frozenset[str]]
    host_arches: Mapping[str, tuple[str, ...]]

    @property
    def arches(self) -> list[str]:
        """The architectures in the plan (without ``noarch``)."""
        return sorted({artifact.arch for artifact in self.artifacts} - {NOARCH})

    def select(self, components: Collection[str]) -> ArtifactPlan:
        """The same plan limited to ``components``; BomError for names it does not have."""
        unknown = set(components) - {artifact.component for artifact in self.artifacts}
        if unknown:
            have = ", ".join(sorted({a.component for a in self.artifacts}))
            raise BomError(
                f"this cluster needs no {', '.join(sorted(unknown))}; its components: {have}"
            )
        return replace(
            self, artifacts=tuple(a for a in self.artifacts if a.component in set(components))
        )

    def unverifiable(self) -> list[Artifact]:
        """Artifacts with neither a pinned checksum nor a published checksum file."""
        return [a for a in self.artifacts if a.sha256 is None and a.checksum_url is None]

    def for_host(self, host: str, arch: str) -> list[Artifact]:
        """What ``host`` (of architecture ``arch``) needs, by its roles and its architecture."""
        roles = self.host_roles.get(host, frozenset())
        return [
            artifact
            for artifact in self.artifacts
            if artifact.roles & roles and artifact.arch in (arch, NOARCH)
        ]

    def hosts_for(self, artifact: Artifact) -> list[str]:
        """The hosts (as planned) that need ``artifact``."""
        return [
            host
            for host, roles in self.host_roles.items()
            if artifact.roles & roles
            and (artifact.arch == NOARCH or artifact.arch in self.host_arches.get(host, ()))
        ]

    def missing_arch(self, host: str, arch: str) -> list[str]:
        """Components ``host`` needs that the plan lacks for ``arch`` (planned for others)."""
        roles = self.host_roles.get(host, frozenset())
        wanted = {a.component for a in self.artifacts if a.roles & roles}
        present = {a.component for a in self.for_host(host, arch)}
        return sorted(wanted - present)


def _cluster_value(cluster: Cluster, key: str) -> str:
    spec = cluster.spec
    values = {
        "kubernetes.type": spec.kubernetes.type,
        "etcd.type": spec.etcd.type,
        "network.plugin": spec.network.plugin,
        "registry.type": spec.registry.type,
    }
    return values[key]


def _cluster_version(cluster: Cluster, which: str) -> str:
    spec = cluster.spec
    versions = {
        "kubernetes": spec.kubernetes.version,
        "etcd": spec.etcd.version,
        "containerd": spec.kubernetes.container_runtime.version,
    }
    return versions[which]


def _version_for(
    name: str,
    spec: ComponentSpec,
    override: ComponentOverride | None,
    cluster: Cluster,
    bom: Bom,
    minor: str,
) -> str:
    if override is not None and override.version is not None:
        return normalize_version(override.version)
    if spec.version_from is not None:
        return normalize_version(_cluster_version(cluster, spec.version_from))
    release = bom.releases.get(minor, {})
    if name in release:
        return normalize_version(release[name])
    supported = ", ".join(bom.minors) or "none"
    raise BomError(
        f"no {name} version for Kubernetes {minor}: the bill of materials covers {supported}. "
        f"Choose a covered spec.kubernetes.version or set "
        f"spec.artifacts.overrides.{name}.version (with its sha256)"
    )


def _expand(template: str, values: Mapping[str, str], what: str) -> str:
    try:
        return template.format_map(values)
    except (KeyError, ValueError, IndexError) as exc:
        raise BomError(f"{what}: cannot expand {template!r}: {exc}") from None


def _artifact(
    name: str,
    spec: ComponentSpec,
    override: ComponentOverride | None,
    version: str,
    arch: str,
    bom: Bom,
) -> Artifact:
    values = {"version": version, "number": version.removeprefix("v"), "arch": arch}
    file_template = (override.file if override and override.file else None) or spec.file
    url_template = (override.url if override and override.url else None) or spec.url
    checksum_template = (
        override.checksum_url if override and override.checksum_url else None
    ) or spec.checksum_url
    what = f"{name} {version} ({arch})"
    file = _expand(file_template, values, what)
    url = _expand(url_template, {**values, "file": file}, what)
    checksum_url = (
        _expand(checksum_template, {**values, "file": file, "url": url}, what)
        if checksum_template
        else None
    )
    sha256: str | None = None
    source: str | None = None
    if override is not None and arch in override.sha256:
        sha256, source = override.sha256[arch], OVERRIDE_SOURCE
    elif (pinned := bom.pinned(name, version, arch)) is not None:
        sha256 = pinned[0]
        source = f"{pinned[1]}: {bom.sources[pinned[1]].describe()}"
    return Artifact(
        component=name,
        version=version,
        arch=arch,
        file=file,
        url=url,
        checksum_url=checksum_url,
        sha256=sha256,
        checksum_source=source,
        roles=frozenset(spec.roles),
        executable=spec.executable,
    )


def plan_artifacts(
    cluster: Cluster,
    host_arches: Mapping[str, Collection[str]],
    *,
    bom: Bom | None = None,
    settings: ArtifactSettings | None = None,
) -> ArtifactPlan:
    """The artifacts ``cluster`` needs, for the architectures of the hosts that need each.

    ``host_arches`` maps each host name to its architecture(s): one when known, several when
    the caller only knows the set (every one is then planned for that host). Components whose
    ``when`` does not match the cluster, or that no host's roles need, are left out.
    """
    bom = bom if bom is not None else default_bom()
    settings = settings if settings is not None else artifact_settings(cluster)
    unknown = set(settings.overrides) - set(bom.components)
    if unknown:
        raise BomError(
            f"spec.artifacts.overrides names unknown component(s) {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(bom.components))}"
        )
    kubernetes_version = normalize_version(cluster.spec.kubernetes.version)
    minor = minor_of(kubernetes_version)
    hosts = cluster.resolved_hosts()
    host_roles = {host.name: frozenset(host.roles) for host in hosts}
    without_arch = [host.name for host in hosts if not host_arches.get(host.name)]
    if without_arch:
        raise BomError(f"no architecture known for host(s) {', '.join(without_arch)}")

    # Hosts share a handful of role sets: each component is matched per set, not per host.
    by_roles: dict[frozenset[str], list[str]] = {}
    for host in hosts:
        by_roles.setdefault(host_roles[host.name], []).append(host.name)
    artifacts: list[Artifact] = []
    for name, spec in bom.components.items():
        if any(_cluster_value(cluster, key) != value for key, value in spec.when.items()):
            continue
        roles = frozenset(spec.roles)
        needing = [names for have, names in by_roles.items() if have & roles]
        if not needing:
            continue
        override = settings.overrides.get(name)
        version = _version_for(name, spec, override, cluster, bom, minor)
        if spec.per_arch:
            arches = sorted(
                {arch for names in needing for host in names for arch in host_arches[host]}
            )
        else:
            arches = [NOARCH]
        artifacts += [_artifact(name, spec, override, version, arch, bom) for arch in arches]
    return ArtifactPlan(
        cluster=cluster.name,
        kubernetes_version=kubernetes_version,
        artifacts=tuple(artifacts),
        host_roles=host_roles,
        host_arches={name: tuple(arches) for name, arches in host_arches.items()},
    )
