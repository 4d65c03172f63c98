"""The ``cni`` phase of ``create cluster``: the pod network of ``spec.network.plugin``.

1. Every node's ``/etc/cni/net.d`` holds no other plugin's configuration (reported, never
   merged: the run stops naming the files).
2. On the first master: kubectl (and helm for Cilium) from the artifact store; Calico's or
   flannel's manifest, changed for this cluster, written to ``/etc/kubexms/cni/<plugin>.yaml``
   and applied server-side; or Cilium's chart and values installed with helm.
3. The plugin's DaemonSet rolled out and every node Ready (else the nodes not Ready and the
   failing pods' last events).
4. What the network was created with is recorded in the work dir; a later cluster file that
   changes the plugin or a CIDR is refused with the field's path before anything runs.
"""

from __future__ import annotations

import hashlib
import shlex
from dataclasses import dataclass

from kubexms.artifacts import NOARCH, ArtifactStore
from kubexms.cni._applied import helm_fingerprint
from kubexms.cni._apply_steps import HelmRelease, HostFile, HostFiles, ServerSideApply
from kubexms.cni._calico import CALICO_DAEMONSET, CALICO_NAMESPACE, calico_objects
from kubexms.cni._cilium import (
    CILIUM_DAEMONSET,
    CILIUM_NAMESPACE,
    CILIUM_RELEASE,
    cilium_values_yaml,
)
from kubexms.cni._flannel import FLANNEL_DAEMONSET, FLANNEL_NAMESPACE, flannel_objects
from kubexms.cni._host_configs import CNI_CONFIG_DIR, foreign_cni_configs, foreign_cni_message
from kubexms.cni._objects import KubeObject
from kubexms.cni._record import NetworkRecord, check_network_unchanged
from kubexms.cni._sources import MANIFEST_COMPONENTS, manifest_version, stored_manifest
from kubexms.cni._tools import BIN_DIR
from kubexms.cni._wait import NetworkReady
from kubexms.config import Cluster
from kubexms.engine import (
    Check,
    CheckFailedError,
    ControlMachine,
    FirstOf,
    PlanContext,
    Roles,
    Step,
    Task,
)
from kubexms.runner import Change
from kubexms.runtime import Context
from kubexms.steps import ComponentModule, PlaceArtifact

CNI_DIR = "/etc/kubexms/cni"
"""Where the first master keeps what the phase applies (manifest, chart, values)."""
CHART_COMPONENT = "cilium-chart"
PLUGIN_DAEMONSETS: dict[str, tuple[str, str, str]] = {
    # plugin: (namespace, DaemonSet, its pods' label selector), as the upstream objects say
    "calico": (CALICO_NAMESPACE, CALICO_DAEMONSET, "k8s-app=calico-node"),
    "flannel": (FLANNEL_NAMESPACE, FLANNEL_DAEMONSET, "app=flannel"),
    "cilium": (CILIUM_NAMESPACE, CILIUM_DAEMONSET, "k8s-app=cilium"),
}
WAIT_SECONDS = 600

_objects_cache: dict[tuple[str, str, str], list[KubeObject]] = {}


def plugin_objects(cluster: Cluster) -> list[KubeObject]:
    """Calico's or flannel's objects for ``cluster``, from the verified manifest in the store
    (parsed once per cluster file and manifest)."""
    store = ArtifactStore.for_cluster(cluster)
    plugin = cluster.spec.network.plugin
    key = (
        hashlib.sha256(cluster.model_dump_json().encode()).hexdigest(),
        str(store.root),
        plugin,
    )
    if key not in _objects_cache:
        text, source = stored_manifest(cluster, store)
        build = calico_objects if plugin == "calico" else flannel_objects
        _objects_cache.clear()  # one cluster file per run: keep one entry
        _objects_cache[key] = build(cluster, text, source)
    return _objects_cache[key]


def manifest_path(plugin: str) -> str:
    return f"{CNI_DIR}/{plugin}.yaml"


@dataclass(frozen=True)
class PluginManifest(ServerSideApply):
    """Calico's or flannel's manifest as this cluster applies it (``version``: the BOM's)."""

    plugin: str = "calico"
    version: str = ""

    def objects(self, cluster: Cluster) -> list[KubeObject]:
        return plugin_objects(cluster)

    def unavailable(self, cluster: Cluster) -> str | None:
        store = ArtifactStore.for_cluster(cluster)
        component = MANIFEST_COMPONENTS[self.plugin]
        if store.manifest().entry((component, self.version, NOARCH)) is None:
            return f"{component} {self.version} is not in the artifact store yet"
        return None


@dataclass(frozen=True)
class NoForeignCniConfig(Check):
    """The host's ``/etc/cni/net.d`` holds no other plugin's configuration."""

    plugin: str
    name: str = "no-foreign-config"

    description = "no other plugin's configuration in /etc/cni/net.d (for {plugin})"

    async def verify(self, ctx: Context) -> None:
        listing = await ctx.runner.run(f"ls -1A -- {shlex.quote(CNI_CONFIG_DIR)} 2>/dev/null")
        foreign = foreign_cni_configs(self.plugin, listing.stdout.split())
        if foreign:
            message = foreign_cni_message(ctx.host.name, self.plugin, foreign)
            raise CheckFailedError(ctx.host.name, self.name, message.split(": ", 1)[1])


@dataclass(frozen=True)
class RecordNetwork(Step):
    """The network the cluster was created with, in the work dir (see ``_record``)."""

    plugin: str
    pods_cidr: str
    service_cidr: str
    name: str = "record"

    description = "record {plugin} with pods {pods_cidr}, services {service_cidr}"

    def _record(self) -> NetworkRecord:
        return NetworkRecord(self.plugin, self.pods_cidr, self.service_cidr)

    async def precheck(self, ctx: Context) -> Change:
        recorded = NetworkRecord.read(ctx.cluster.config.work_dir)
        return Change(recorded != self._record(), "record the network")

    async def run(self, ctx: Context) -> Change:
        work_dir = ctx.cluster.config.work_dir
        self._record().write(work_dir)
        return Change(True, "record the network", str(NetworkRecord.path(work_dir)))


def cilium_steps(cluster: Cluster) -> list[Step]:
    """helm and the chart from the store, the values document, the release."""
    version = manifest_version(cluster, CHART_COMPONENT)
    chart = f"{CNI_DIR}/cilium-{version.lstrip('v')}.tgz"
    values = cilium_values_yaml(cluster)
    values_path = f"{CNI_DIR}/cilium-values.yaml"
    return [
        PlaceArtifact("kubectl", f"{BIN_DIR}/kubectl", name="kubectl"),
        PlaceArtifact(
            "helm", BIN_DIR, extract=True, members=("linux-{arch}/helm",), strip_components=1
        ),
        PlaceArtifact(CHART_COMPONENT, chart, name="chart"),
        HostFiles((HostFile(values_path, values),), "cilium", name="values"),
        HelmRelease(
            CILIUM_RELEASE,
            chart,
            CILIUM_NAMESPACE,
            "cilium",
            helm_fingerprint([CHART_COMPONENT, version, values]),
            values_files=(values_path,),
            timeout_seconds=WAIT_SECONDS,
        ),
    ]


class CniModule(ComponentModule):
    """The ``cni`` phase (see the module docstring); nothing of the cluster PKI."""

    name = "cni"
    roles = ("master", "worker")

    @classmethod
    def artifacts_for(cls, cluster: Cluster) -> tuple[str, ...]:
        """kubectl and the plugin's manifest; for Cilium, helm and its chart instead."""
        plugin = cluster.spec.network.plugin
        if plugin == "cilium":
            return ("kubectl", "helm", CHART_COMPONENT)
        return ("kubectl", MANIFEST_COMPONENTS[plugin])

    def tasks(self, ctx: PlanContext) -> list[Task]:
        cluster = ctx.config
        check_network_unchanged(cluster)
        network = cluster.spec.network
        plugin = network.plugin
        install: list[Step]
        if plugin == "cilium":
            install = cilium_steps(cluster)
        else:
            version = manifest_version(cluster, MANIFEST_COMPONENTS[plugin])
            install = [
                PlaceArtifact("kubectl", f"{BIN_DIR}/kubectl", name="kubectl"),
                PluginManifest(manifest_path(plugin), plugin, plugin=plugin, version=version),
            ]
        ready = NetworkReady(plugin, (PLUGIN_DAEMONSETS[plugin],), WAIT_SECONDS)
        record = RecordNetwork(plugin, network.kube_pods_cidr, network.kube_service_cidr)
        return [
            Task("configs", [NoForeignCniConfig(plugin)], Roles("master", "worker")),
            Task("install", install, FirstOf("master")),
            Task("ready", [ready], FirstOf("master")),
            Task("record", [record], ControlMachine()),
        ]
