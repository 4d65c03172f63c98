"""The ``control-plane`` and ``workers`` phases in binary mode (``kubernetes.type: kubexm``).

Control plane, on every master in parallel: the binaries from the artifact store, the cluster
PKI files and kubeconfigs, the encryption configuration (made once on this machine), then
kube-apiserver, kube-controller-manager and kube-scheduler as systemd services, each healthy
before the phase goes on. The masters are nodes too: they get the kubelet (tainted
``control-plane:NoSchedule`` unless also workers) and kube-proxy. Last, the first master
applies what kubeadm would create (RBAC bindings, ``cluster-info``, CoreDNS's objects)
through the endpoint, and ``<workDir>/kubeconfig`` is written for the user.
Workers: the kubelet and kube-proxy, with their kubeconfigs and serving certificates.

``extraArgs`` of the five components are checked against each one's flag list for the
cluster's version before anything is planned (a config error names the field).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

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
    branches,
)
from kubexms.etcd import _layout as etcd_layout
from kubexms.kubernetes._kubeconfig import WriteUserKubeconfig
from kubexms.kubernetes._layout import PKI_DIR
from kubexms.kubernetes._wait import WaitForApiServer, WaitForNodes
from kubexms.kubernetes.binary._apply import ApplyClusterObjects
from kubexms.kubernetes.binary._args import extra_args_problems
from kubexms.kubernetes.binary._encryption import STORED_NAME, EncryptionKey, encryption_directory
from kubexms.kubernetes.binary._layout import (
    ADMIN_CONF,
    BIN_DIR,
    CA_CERT,
    CONTROLLER_MANAGER_CONF,
    ENCRYPTION_CONFIG,
    KUBE_PROXY_CONF,
    KUBELET_CONF,
    KUBELET_SERVING_CERT,
    KUBELET_SERVING_KEY,
    SCHEDULER_CONF,
    SUPER_ADMIN_CONF,
    unit,
)
from kubexms.kubernetes.binary._needs import control_plane_host_needs, node_host_needs
from kubexms.kubernetes.binary._services import (
    apiserver_service,
    controller_manager_service,
    kube_proxy_service,
    kubelet_service,
    scheduler_service,
    with_readers,
)
from kubexms.steps import (
    ComponentModule,
    PKIFile,
    PlaceArtifact,
    PlacePKIFiles,
    kubeadm_layout,
    pki_items,
)

CONTROL_PLANE_ARTIFACTS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")
NODE_ARTIFACTS = ("kubelet", "kube-proxy")
API_JOURNAL = ("kube-apiserver.service",)  # whose journal a /readyz timeout shows
SUPER_ADMIN_FILES = (PKIFile("kubeconfig/super-admin.conf", SUPER_ADMIN_CONF),)
"""system:masters' kubeconfig: on the first master only, as kubeadm keeps it."""
_SHARED_PKI = (
    "ca",
    "front-proxy-ca",
    "apiserver",
    "apiserver-kubelet-client",
    "front-proxy-client",
)


def master_pki_files(cluster: Cluster) -> tuple[PKIFile, ...]:
    """The cluster PKI files every master's control-plane services read."""
    files = [*kubeadm_layout(_SHARED_PKI, PKI_DIR)]
    files += [PKIFile("sa.key", f"{PKI_DIR}/sa.key"), PKIFile("sa.pub", f"{PKI_DIR}/sa.pub")]
    if cluster.spec.etcd.type == "kubexm":
        files += [
            PKIFile("etcd/ca.crt", etcd_layout.CA_CERT),
            PKIFile("apiserver-etcd-client.crt", etcd_layout.APISERVER_CLIENT_CERT),
            PKIFile("apiserver-etcd-client.key", etcd_layout.APISERVER_CLIENT_KEY),
        ]
    files += [
        PKIFile("kubeconfig/controller-manager.conf", CONTROLLER_MANAGER_CONF),
        PKIFile("kubeconfig/scheduler.conf", SCHEDULER_CONF),
        PKIFile("kubeconfig/admin.conf", ADMIN_CONF),
    ]
    return tuple(files)


def node_pki_files(*, with_ca: bool) -> tuple[PKIFile, ...]:
    """A node's kubelet kubeconfig and serving certificate, kube-proxy's kubeconfig (and the
    CA the kubelet checks clients against, unless the master files bring it)."""
    files = [
        PKIFile("kubeconfig/kubelet-{host}.conf", KUBELET_CONF),
        PKIFile("kubelet-serving-{host}.crt", KUBELET_SERVING_CERT),
        PKIFile("kubelet-serving-{host}.key", KUBELET_SERVING_KEY),
        PKIFile("kubeconfig/kube-proxy.conf", KUBE_PROXY_CONF),
    ]
    if with_ca:
        files.insert(0, PKIFile("ca.crt", CA_CERT))
    return tuple(files)


def _artifacts(cluster: Cluster, names: Sequence[str]) -> list[PlaceArtifact]:
    version = cluster.spec.kubernetes.version
    return [
        PlaceArtifact(name, f"{BIN_DIR}/{name}", version=version, mode=0o755, name=f"bin-{name}")
        for name in names
    ]


def _check_mode(cluster: Cluster) -> None:
    if cluster.spec.kubernetes.type != "kubexm":
        raise PlanError("binary mode planned for a cluster whose kubernetes.type is not kubexm")
    if cluster.spec.etcd.type == "kubeadm":
        raise PlanError(
            "spec.etcd.type kubeadm (stacked etcd as static pods) needs kubernetes.type kubeadm; "
            "with kubernetes.type kubexm use etcd.type kubexm or external"
        )
    problems = extra_args_problems(cluster)
    if problems:
        raise PlanError("; ".join(str(problem) for problem in problems))


def _node_tasks(cluster: Cluster, names: Sequence[str], *, with_ca: bool) -> list[Task]:
    tasks: list[Task] = []
    for name in names:
        hosts = Named([name])
        services = [kubelet_service(cluster, name), kube_proxy_service(cluster, name)]
        files = with_readers(node_pki_files(with_ca=with_ca), services)
        tasks.append(
            Task(
                f"node-{name}",
                [
                    *_artifacts(cluster, NODE_ARTIFACTS),
                    PlacePKIFiles(files, name="node-certificates"),
                    *services,
                ],
                hosts,
            )
        )
    return tasks


class BinaryControlPlaneModule(ComponentModule):
    """Phase ``control-plane`` in binary mode (see the module docstring)."""

    name = "control-plane"
    artifacts = (*CONTROL_PLANE_ARTIFACTS, *NODE_ARTIFACTS)
    roles = ("master",)

    @classmethod
    def certificates(cls, cluster: Cluster) -> Iterable[str]:
        """Every cluster PKI item binary mode places: the masters' files (super-admin.conf
        on the first), and every node's kubelet and kube-proxy files."""
        nodes = [
            h for h in cluster.resolved_hosts() if h.has_role("master") or h.has_role("worker")
        ]
        master_files = (*master_pki_files(cluster), *SUPER_ADMIN_FILES)
        return pki_items(
            [
                *((host.name, master_files) for host in cluster.hosts_with_role("master")),
                *((host.name, node_pki_files(with_ca=True)) for host in nodes),
            ]
        )

    def host_needs(self, ctx: PlanContext) -> Sequence[HostNeeds]:
        return control_plane_host_needs()

    def tasks(self, ctx: PlanContext) -> Sequence[Task]:
        cluster = ctx.config
        _check_mode(cluster)
        masters = [host.name for host in cluster.hosts_with_role("master")]
        # The paths are the same on every master: the first one's services tell who reads what.
        readers = [
            apiserver_service(cluster, masters[0]),
            controller_manager_service(cluster),
            scheduler_service(cluster),
        ]
        placed = PlacePKIFiles(
            with_readers((PKIFile(STORED_NAME, ENCRYPTION_CONFIG, 0o600),), readers),
            pki_dir=str(encryption_directory(cluster)),
            name="encryption-config",
        )
        tasks = [
            Task("encryption-key", [EncryptionKey()], ControlMachine()),
            Task(
                "prepare",
                [
                    *_artifacts(cluster, CONTROL_PLANE_ARTIFACTS),
                    PlacePKIFiles(
                        with_readers(master_pki_files(cluster), readers), name="certificates"
                    ),
                    placed,
                ],
                Roles("master"),
            ),
            *[
                Task(f"apiserver-{name}", [apiserver_service(cluster, name)], Named([name]))
                for name in masters
            ],
            Task(
                "controllers",
                [controller_manager_service(cluster), scheduler_service(cluster)],
                Roles("master"),
            ),
            # /readyz through the endpoint first, with a clear timeout and the unit's journal.
            Task("api-ready", [WaitForApiServer(journal_units=API_JOURNAL)], FirstOf("master")),
            # super-admin.conf (system:masters) on the first master only, as kubeadm keeps it.
            Task(
                "cluster-objects",
                [
                    PlacePKIFiles(SUPER_ADMIN_FILES, name="super-admin"),
                    ApplyClusterObjects(),
                ],
                FirstOf("master"),
            ),
            # The objects were applied through the endpoint: the API answers there.
            Task("user-kubeconfig", [WriteUserKubeconfig()], ControlMachine()),
            *_node_tasks(cluster, masters, with_ca=False),
            Task(
                "nodes-registered",
                [WaitForNodes(tuple(masters), journal_units=(unit("kubelet"),))],
                FirstOf("master"),
            ),
        ]
        apiservers = [f"apiserver-{name}" for name in masters]
        after: dict[str, Sequence[str]] = {
            "prepare": ["encryption-key"],
            **{name: ["prepare"] for name in apiservers},
            "controllers": apiservers,
            "api-ready": apiservers,
            "cluster-objects": ["api-ready"],
            "user-kubeconfig": ["cluster-objects"],
            **{f"node-{name}": ["cluster-objects"] for name in masters},
            "nodes-registered": [f"node-{name}" for name in masters],
        }
        return branches(tasks, after)


class BinaryWorkersModule(ComponentModule):
    """Phase ``workers`` in binary mode: the kubelet and kube-proxy on every worker that is
    not a master (the masters got theirs in ``control-plane``)."""

    name = "workers"
    artifacts = NODE_ARTIFACTS
    roles = ("worker",)

    @classmethod
    def certificates(cls, cluster: Cluster) -> Iterable[str]:
        """The same items as ``control-plane`` (every node's files are among them)."""
        return BinaryControlPlaneModule.certificates(cluster)

    def host_needs(self, ctx: PlanContext) -> Sequence[HostNeeds]:
        # A worker that is also a master has its kubelet from the control-plane phase.
        return [replace(needs, without_roles=("master",)) for needs in node_host_needs(("worker",))]

    def tasks(self, ctx: PlanContext) -> Sequence[Task]:
        cluster = ctx.config
        _check_mode(cluster)
        workers = [
            host.name for host in cluster.hosts_with_role("worker") if not host.has_role("master")
        ]
        if not workers:
            return []
        nodes = tuple(host.name for host in cluster.hosts_with_role("master")) + tuple(workers)
        wait = WaitForNodes(nodes, journal_units=(unit("kubelet"),))
        registered = Task("nodes-registered", [wait], FirstOf("master"))
        return branches(
            [*_node_tasks(cluster, workers, with_ca=True), registered],
            {"nodes-registered": [f"node-{name}" for name in workers]},
        )
