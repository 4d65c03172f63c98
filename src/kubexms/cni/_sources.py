"""The plugin's upstream manifest, read on the control machine from the artifact store.

Calico's comes out of its source archive (``calico-<n>/manifests/calico.yaml``); flannel's is
the stored ``kube-flannel.yml`` itself. Either is read only after its sha256 matches the one the
store recorded at download (pinned by the BOM, or by the user for flannel).
"""

from __future__ import annotations

import tarfile
from pathlib import Path, PurePosixPath

from kubexms.artifacts import NOARCH, ArtifactStore, plan_artifacts
from kubexms.cni._errors import ManifestError
from kubexms.config import Cluster

MANIFEST_COMPONENTS = {"calico": "calico-manifests", "flannel": "flannel-manifest"}
"""The artifact holding each manifest-installed plugin's manifest (cilium is a chart)."""
MAX_MANIFEST_BYTES = 8 * 1024 * 1024
"""Far above calico.yaml's half megabyte; a larger member is not the file meant."""
_CALICO_MEMBER = ("manifests", "calico.yaml")


def manifest_version(cluster: Cluster, component: str) -> str:
    """The version of ``component`` this cluster uses (the BOM's for its Kubernetes minor, or
    ``spec.artifacts.overrides``)."""
    every_host = {host.name: ("amd64",) for host in cluster.resolved_hosts()}
    plan = plan_artifacts(cluster, every_host)  # the manifests are noarch: any arch will do
    versions = {artifact.version for artifact in plan.artifacts if artifact.component == component}
    if len(versions) != 1:
        raise ManifestError(f"the artifact plan of cluster {cluster.name} has no {component}")
    return versions.pop()


def calico_manifest_from_archive(archive: Path) -> str:
    """``manifests/calico.yaml`` of Calico's source archive (one top directory)."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = [
                member
                for member in tar.getmembers()
                if PurePosixPath(member.name).parts[1:] == _CALICO_MEMBER
            ]
            if len(members) != 1 or not members[0].isfile():
                raise ManifestError(
                    f"{archive}: expected one file <top>/{'/'.join(_CALICO_MEMBER)}, found "
                    f"{len(members)}"
                )
            member = members[0]
            if member.size > MAX_MANIFEST_BYTES:
                raise ManifestError(f"{archive}: {member.name} is {member.size} bytes")
            handle = tar.extractfile(member)
            if handle is None:
                raise ManifestError(f"{archive}: {member.name} cannot be read")
            data = handle.read()
    except (OSError, tarfile.TarError) as error:
        raise ManifestError(f"{archive}: cannot read Calico's source archive: {error}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ManifestError(f"{archive}: {member.name} is not UTF-8 text") from None


def stored_manifest(cluster: Cluster, store: ArtifactStore) -> tuple[str, str]:
    """The upstream manifest of the cluster's plugin and where it came from (for messages)."""
    plugin = cluster.spec.network.plugin
    component = MANIFEST_COMPONENTS.get(plugin)
    if component is None:
        raise ManifestError(f"{plugin} is installed from a Helm chart, not a manifest")
    version = manifest_version(cluster, component)
    entry = store.manifest().entry((component, version, NOARCH))
    if entry is None:
        raise ManifestError(
            f"{component} {version} is not in the store {store.root}; run "
            "`kubexms artifact download` first"
        )
    path = store.path_of(entry)
    if not store.is_valid(entry):
        raise ManifestError(
            f"{path} is missing or differs from its recorded sha256; run "
            "`kubexms artifact download` again"
        )
    if plugin == "calico":
        return calico_manifest_from_archive(path), f"{path}:{'/'.join(_CALICO_MEMBER)}"
    try:
        return path.read_text("utf-8"), str(path)
    except (OSError, UnicodeDecodeError) as error:
        raise ManifestError(f"{path}: cannot read: {error}") from None
