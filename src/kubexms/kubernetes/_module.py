"""The ``control-plane`` and ``workers`` phases in kubeadm mode: declarations on the blocks.

control-plane, on the masters: a look at what kubeadm left there (another cluster's host is
refused before anything is written); kubeadm, kubelet and kubectl from the artifact store; the
kubelet's unit and kubeadm's drop-in (enabled, left for kubeadm to start); the cluster PKI in
``/etc/kubernetes/pki`` (kubeadm then generates no CA: the external etcd client files are among
them, at the paths the ClusterConfiguration names); ``kubeadm init`` on the first master;
the bootstrap token checked (made again when it expired); then the other masters join as
control-plane nodes, one after another (each may add a stacked etcd member).

workers, on the workers that are not masters: the same look, kubeadm and kubelet, the kubelet's
unit, the token checked on the first master, then every worker joins at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from kubexms.config import Cluster
from kubexms.engine import (
    ControlMachine,
    FirstOf,
    HostNeeds,
    Named,
    PlanContext,
    PlanError,
    Roles,
    Task,
)
from kubexms.kubernetes._kubeadm_join import KubeadmJoin
from kubexms.kubernetes._kubeadm_membership import KubeadmMembership
from kubexms.kubernetes._kubeadm_steps import BootstrapTokenValid, KubeadmInit
from kubexms.kubernetes._kubeconfig import WriteUserKubeconfig
from kubexms.kubernetes._kubelet_unit import (
    DROP_IN_NAME,
    KUBELET_BINARY,
    UNIT_NAME,
    kubeadm_drop_in,
    kubelet_unit,
)
from kubexms.kubernetes._layout import (
    KUBEADM_BINARY,
    KUBEADM_INIT_CONFIG,
    KUBEADM_JOIN_CONFIG,
    KUBECTL_BINARY,
    first_master,
)
from kubexms.kubernetes._needs import control_plane_host_needs, workers_host_needs
from kubexms.kubernetes._pki_files import master_pki_files
from kubexms.kubernetes._wait import WaitForApiServer, WaitForNodes
from kubexms.pki import control_plane_url
from kubexms.steps import (
    ComponentModule,
    PlaceArtifact,
    PlacePKIFiles,
    SystemdService,
    pki_items,
)

_MASTER_BINARIES = (
    ("kubeadm", KUBEADM_BINARY),
    ("kubelet", KUBELET_BINARY),
    ("kubectl", KUBECTL_BINARY),
)
_WORKER_BINARIES = (("kubeadm", KUBEADM_BINARY), ("kubelet", KUBELET_BINARY))


def _check_mode(cluster: Cluster) -> None:
    if cluster.spec.kubernetes.type != "kubeadm":
        raise PlanError(
            "kubernetes.type kubexm (binary mode) is not installed by these phases; "
            "use kubernetes.type kubeadm"
        )


def _binaries(cluster: Cluster, wanted: Sequence[tuple[str, str]]) -> list[PlaceArtifact]:
    version = cluster.spec.kubernetes.version
    return [
        PlaceArtifact(component, dest, version=version, mode=0o755, name=component)
        for component, dest in wanted
    ]


def kubelet_service() -> SystemdService:
    """kubelet.service with kubeadm's drop-in: enabled, not started (kubeadm starts it once its
    configuration exists; until then the kubelet would only exit and restart)."""
    return SystemdService(
        unit=UNIT_NAME,
        unit_file=kubelet_unit(),
        drop_ins={DROP_IN_NAME: kubeadm_drop_in()},
        start=False,
        name="kubelet",
    )


def worker_names(cluster: Cluster) -> list[str]:
    """The workers that are not also masters, in config order (a master joined already)."""
    masters = {host.name for host in cluster.hosts_with_role("master")}
    return [host.name for host in cluster.hosts_with_role("worker") if host.name not in masters]


def _kubeadm_mode(cluster: Cluster) -> bool:
    return cluster.spec.kubernetes.type == "kubeadm"  # binary mode: planning says why not


class ControlPlaneModule(ComponentModule):
    """The ``control-plane`` phase in kubeadm mode (see the module docstring)."""

    name = "control-plane"
    artifacts = tuple(name for name, _ in _MASTER_BINARIES)  # kubeadm, kubelet, kubectl
    roles = ("master",)

    @classmethod
    def installs(cls, cluster: Cluster) -> bool:
        return _kubeadm_mode(cluster)

    @classmethod
    def certificates(cls, cluster: Cluster) -> Iterable[str]:
        """Every cluster PKI item a master gets."""
        masters = cluster.hosts_with_role("master")
        return pki_items((host.name, master_pki_files(cluster, host.name)) for host in masters)

    def host_needs(self, ctx: PlanContext) -> Sequence[HostNeeds]:
        """Ports, kernel modules and sysctls of the control plane and the kubelet."""
        return control_plane_host_needs(ctx.config)[:1]

    def tasks(self, ctx: PlanContext) -> Sequence[Task]:
        cluster = ctx.config
        _check_mode(cluster)
        masters = Roles("master")
        first = first_master(cluster)
        others = [host.name for host in cluster.hosts_with_role("master") if host.name != first]
        tasks = [
            Task("membership", [KubeadmMembership(control_plane_url(cluster))], masters),
            Task("binaries", _binaries(cluster, _MASTER_BINARIES), masters),
            Task("kubelet", [kubelet_service()], masters),
            Task(
                "pki-first",
                [PlacePKIFiles(master_pki_files(cluster, first), name="pki")],
                Named([first]),
            ),
        ]
        if others:
            files = master_pki_files(cluster, others[0])
            tasks.append(Task("pki", [PlacePKIFiles(files, name="pki")], Named(others)))
        tasks += [
            Task("init", [KubeadmInit(KUBEADM_INIT_CONFIG)], Named([first])),
            # kubeadm waited for its local API server; this waits through the endpoint.
            Task("api-ready", [WaitForApiServer(kubectl=KUBECTL_BINARY)], FirstOf("master")),
            Task("user-kubeconfig", [WriteUserKubeconfig()], ControlMachine()),
            Task("bootstrap-token", [BootstrapTokenValid()], FirstOf("master")),
        ]
        tasks += [
            Task(
                f"join-{name}",
                [KubeadmJoin(KUBEADM_JOIN_CONFIG, control_plane=True)],
                Named([name]),
            )
            for name in others
        ]
        master_names = tuple(host.name for host in cluster.hosts_with_role("master"))
        tasks.append(
            Task(
                "nodes-registered",
                [WaitForNodes(master_names, kubectl=KUBECTL_BINARY)],
                FirstOf("master"),
            )
        )
        return tasks


class WorkersModule(ComponentModule):
    """The ``workers`` phase in kubeadm mode (see the module docstring)."""

    name = "workers"
    artifacts = tuple(name for name, _ in _WORKER_BINARIES)  # kubeadm and kubelet
    roles = ("worker",)

    @classmethod
    def installs(cls, cluster: Cluster) -> bool:
        return _kubeadm_mode(cluster)

    @classmethod
    def certificates(cls, cluster: Cluster) -> Iterable[str]:
        """The CA (its hash pins discovery)."""
        return ("ca",)

    def host_needs(self, ctx: PlanContext) -> Sequence[HostNeeds]:
        """The kubelet's port, kernel modules and sysctls."""
        return workers_host_needs(ctx.config)

    def tasks(self, ctx: PlanContext) -> Sequence[Task]:
        cluster = ctx.config
        _check_mode(cluster)
        names = worker_names(cluster)
        if not names:
            return []
        workers = Named(names)
        return [
            Task("membership", [KubeadmMembership(control_plane_url(cluster))], workers),
            Task("binaries", _binaries(cluster, _WORKER_BINARIES), workers),
            Task("kubelet", [kubelet_service()], workers),
            Task("bootstrap-token", [BootstrapTokenValid()], FirstOf("master")),
            Task("join", [KubeadmJoin(KUBEADM_JOIN_CONFIG)], workers),
            Task(
                "nodes-registered",
                [WaitForNodes(_node_names(cluster, names), kubectl=KUBECTL_BINARY)],
                FirstOf("master"),
            ),
        ]


def _node_names(cluster: Cluster, workers: Sequence[str]) -> tuple[str, ...]:
    """Every node the API server should know once the workers joined: masters, then workers."""
    masters = tuple(host.name for host in cluster.hosts_with_role("master"))
    return masters + tuple(name for name in workers if name not in masters)
