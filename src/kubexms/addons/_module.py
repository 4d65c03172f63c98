"""The ``addons`` phase of ``create cluster``: the cluster DNS objects kubexms applies itself
(``kubexms.dns``), then ``spec.addons`` in list order, on the first master with the admin
kubeconfig.

One task per add-on, each after the one before it, so an add-on that fails stops the phase
there (reported with its name and the tool's message), the add-ons before it stay installed,
and ``--resume`` continues at the add-on that failed.

- ``helm``: the values files and inline values written to ``/etc/kubexms/addons/<name>/``, a
  local chart archive copied there, then ``helm upgrade --install --wait --timeout``; the
  release's description is the sha256 of chart and values, so a rerun with the same ones
  changes nothing.
- ``manifest``: each manifest (a file of this machine, or a URL fetched into the work dir and
  refused unless its sha256 matches) written there and applied server-side, its objects
  annotated with the manifest's sha256 for the same reason.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from kubexms.addons._commands import (
    chart_on_host,
    in_namespace,
    inline_values_yaml,
    manifests_on_host,
    values_files_on_host,
)
from kubexms.artifacts import fetch_to, sha256_of
from kubexms.cni import (
    HelmRelease,
    HostFile,
    HostFiles,
    KubeObject,
    ManifestError,
    ServerSideApply,
    UploadFile,
    load_objects,
)
from kubexms.cni._applied import helm_fingerprint
from kubexms.cni._tools import BIN_DIR
from kubexms.config import Addon, Cluster
from kubexms.dns import dns_objects, dns_steps
from kubexms.engine import FirstOf, PlanContext, Step, Task
from kubexms.steps import ComponentModule, PlaceArtifact

FETCHED_DIR = "addons"
"""Where, under the work dir, manifests fetched from a URL are kept (verified)."""


def fetched_path(cluster: Cluster, addon: str, index: int, host_path: str) -> Path:
    """Where the manifest ``index`` of ``addon`` fetched from its URL is kept."""
    return cluster.work_dir / FETCHED_DIR / addon / Path(host_path).name


@dataclass(frozen=True)
class AddonManifest(ServerSideApply):
    """One manifest of a ``manifest`` add-on: ``local`` (a file of this machine) or ``url``
    with its ``sha256`` (fetched once into the work dir)."""

    addon: str = ""
    index: int = 0
    local: str | None = None
    url: str | None = None
    sha256: str | None = None
    default_namespace: str = "default"

    def _source(self, cluster: Cluster) -> Path:
        if self.local is not None:
            return Path(self.local)
        return fetched_path(cluster, self.addon, self.index, self.path)

    def unavailable(self, cluster: Cluster) -> str | None:
        if self.url is not None and not self._fetched(cluster):
            return f"{self.url} is not fetched yet"
        return None

    def _fetched(self, cluster: Cluster) -> bool:
        path = self._source(cluster)
        return path.is_file() and sha256_of(path) == self.sha256

    def objects(self, cluster: Cluster) -> list[KubeObject]:
        path = self._source(cluster)
        if self.url is not None and self.sha256 is not None and not self._fetched(cluster):
            fetch_to(self.url, path, self.sha256)
        where = self.url or self.local or str(path)
        try:
            text = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ManifestError(f"addon {self.addon}: {where}: cannot read: {error}") from None
        objects = load_objects(text, f"addon {self.addon}: {where}")
        return in_namespace(objects, self.default_namespace)


def _read_text(path: Path, addon: str) -> str:
    try:
        return path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ManifestError(f"addon {addon}: values file {path}: cannot read: {error}") from None


def helm_steps(addon: Addon) -> list[Step]:
    """The values documents on the host, the local chart copied there, the release."""
    what = f"addon {addon.name}"
    documents = [_read_text(path, addon.name) for path in addon.values_files]
    inline = inline_values_yaml(addon)
    if inline is not None:
        documents.append(inline)
    placed = values_files_on_host(addon)
    steps: list[Step] = []
    if placed:
        files = tuple(HostFile(path, text) for path, text in zip(placed, documents, strict=True))
        steps.append(HostFiles(files, what, name="values"))
    chart = chart_on_host(addon)
    assert addon.chart is not None  # a helm add-on names its chart (checked by the config)
    if addon.local_chart:
        identity = ["local", sha256_of(Path(addon.chart))]
        steps.append(UploadFile(addon.chart, chart, what, name="chart"))
    else:
        identity = ["repo", addon.repo or "", addon.chart, addon.version or ""]
    steps.append(
        HelmRelease(
            addon.name,
            chart,
            addon.namespace,
            what,
            helm_fingerprint([*identity, *documents]),
            values_files=tuple(placed),
            repo=addon.repo,
            version=addon.version,
            timeout_seconds=math.ceil(addon.timeout),
        )
    )
    return steps


def manifest_steps(addon: Addon) -> list[Step]:
    steps: list[Step] = []
    for index, (source, path) in enumerate(
        zip(addon.manifests, manifests_on_host(addon), strict=True)
    ):
        steps.append(
            AddonManifest(
                path,
                f"addon {addon.name}",
                name=f"manifest-{index}",
                default_namespace=addon.namespace,
                addon=addon.name,
                index=index,
                local=None if source.path is None else str(source.path),
                url=source.url,
                sha256=source.sha256,
            )
        )
    return steps


class AddonsModule(ComponentModule):
    """The ``addons`` phase (see the module docstring); nothing of the cluster PKI."""

    name = "addons"
    roles = ("master",)

    @classmethod
    def installs(cls, cluster: Cluster) -> bool:
        """Add-ons in the cluster file, or DNS objects kubexms applies itself."""
        return bool(cluster.spec.addons or dns_objects(cluster))

    @classmethod
    def artifacts_for(cls, cluster: Cluster) -> tuple[str, ...]:
        """kubectl, and helm when an add-on is a helm chart."""
        helm = any(addon.type == "helm" for addon in cluster.spec.addons)
        return ("kubectl", "helm") if helm else ("kubectl",)

    def tasks(self, ctx: PlanContext) -> list[Task]:
        addons = ctx.config.spec.addons
        dns = dns_steps(ctx.config)
        if not addons and not dns:
            return []
        tools: list[Step] = [PlaceArtifact("kubectl", f"{BIN_DIR}/kubectl", name="kubectl")]
        if any(addon.type == "helm" for addon in addons):
            tools.append(
                PlaceArtifact(
                    "helm",
                    BIN_DIR,
                    extract=True,
                    members=("linux-{arch}/helm",),
                    strip_components=1,
                    name="helm",
                )
            )
        tasks = [Task("tools", tools, FirstOf("master"))]
        if dns:
            tasks.append(Task("dns", dns, FirstOf("master")))
        for addon in addons:
            steps = helm_steps(addon) if addon.type == "helm" else manifest_steps(addon)
            tasks.append(Task(f"addon-{addon.name}", steps, FirstOf("master")))
        return tasks
