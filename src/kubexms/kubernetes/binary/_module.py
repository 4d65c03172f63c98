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

from collections.abc import Sequence
from dataclasses import replace

from kubexms.config import Cluster, ResolvedHost
from kubexms.engine import (
    ControlMachine,
    FirstOf,
    HostNeeds,
    Module,
    Named,
    PlanContext,
    PlanError,
    Roles,
    Task,
    branches,
)
from kubexms.etcd import _layout as etcd_layout
from kubexms.kubernetes._kubeadm_config import to_yaml
from kubexms.kubernetes._kubeconfig import WriteUserKubeconfig
from kubexms.kubernetes._layout import CONTROL_PLANE_TAINT, PKI_DIR
from kubexms.kubernetes._wait import WaitForApiServer, WaitForNodes
from kubexms.kubernetes.binary._apply import ApplyClusterObjects
from kubexms.kubernetes.binary._args import (
    apiserver_args,
    controller_manager_args,
    extra_args_problems,
    kube_proxy_args,
    kubelet_args,
    scheduler_args,
)
from kubexms.kubernetes.binary._configs import (
    binary_kube_proxy_configuration,
    binary_kubelet_configuration,
    scheduler_configuration,
)
from kubexms.kubernetes.binary._encryption import STORED_NAME, EncryptionKey, encryption_directory
from kubexms.kubernetes.binary._layout import (
    ADMIN_CONF,
    API_SERVER_PORT,
    BIN_DIR,
    CA_CERT,
    CONTROLLER_MANAGER_CONF,
    CONTROLLER_MANAGER_PORT,
    ENCRYPTION_CONFIG,
    KUBE_PROXY_CONF,
    KUBE_PROXY_CONFIG,
    KUBE_PROXY_HEALTH_PORT,
    KUBELET_CONF,
    KUBELET_CONFIG,
    KUBELET_PORT,
    KUBELET_SERVING_CERT,
    KUBELET_SERVING_KEY,
    SCHEDULER_CONF,
    SCHEDULER_CONFIG,
    SCHEDULER_PORT,
    SUPER_ADMIN_CONF,
    unit,
)
from kubexms.kubernetes.binary._needs import control_plane_host_needs, node_host_needs
from kubexms.kubernetes.binary._units import render_unit
from kubexms.steps import (
    Health,
    PKIFile,
    PlaceArtifact,
    PlacePKIFiles,
    ServiceFile,
    SystemdService,
    kubeadm_layout,
)

RELEASE_DIR = "/etc/kubernetes/kubexms"
CONTROL_PLANE_ARTIFACTS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")
NODE_ARTIFACTS = ("kubelet", "kube-proxy")
API_JOURNAL = ("kube-apiserver.service",)  # whose journal a /readyz timeout shows
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


def pki_names(cluster: Cluster) -> frozenset[str]:
    """What the pki phase must make for binary mode."""
    names = {
        "ca",
        "front-proxy-ca",
        "apiserver",
        "apiserver-kubelet-client",
        "front-proxy-client",
        "sa",
        "admin",
        "super-admin",
        "controller-manager",
        "scheduler",
        "kube-proxy",
    }
    if cluster.spec.etcd.type == "kubexm":
        names |= {"etcd/ca", "apiserver-etcd-client"}
    for host in cluster.resolved_hosts():
        if host.has_role("master") or host.has_role("worker"):
            names |= {f"kubelet-{host.name}", f"kubelet-serving-{host.name}"}
    return frozenset(names)


def _artifacts(cluster: Cluster, names: Sequence[str]) -> list[PlaceArtifact]:
    version = cluster.spec.kubernetes.version
    return [
        PlaceArtifact(name, f"{BIN_DIR}/{name}", version=version, mode=0o755, name=f"bin-{name}")
        for name in names
    ]


def _release(cluster: Cluster, component: str) -> ServiceFile:
    # The binary is replaced under a running service: naming the release in one of its files
    # makes a new version restart it, like a changed setting (as etcd's release file does).
    path = f"{RELEASE_DIR}/{component}.release"
    return ServiceFile(path, f"{cluster.spec.kubernetes.version}\n")


def apiserver_service(cluster: Cluster, host: str) -> SystemdService:
    """kube-apiserver on the master ``host`` (it advertises the host's internal address)."""
    address = _address(cluster, host)
    return SystemdService(
        unit=unit("kube-apiserver"),
        unit_file=render_unit("kube-apiserver", apiserver_args(cluster, address)),
        files=(_release(cluster, "kube-apiserver"),),
        health=Health(port=API_SERVER_PORT, timeout=120),
    )


def controller_manager_service(cluster: Cluster) -> SystemdService:
    return SystemdService(
        unit=unit("kube-controller-manager"),
        unit_file=render_unit("kube-controller-manager", controller_manager_args(cluster)),
        files=(_release(cluster, "kube-controller-manager"),),
        health=Health(port=CONTROLLER_MANAGER_PORT, timeout=120),
    )


def scheduler_service(cluster: Cluster) -> SystemdService:
    return SystemdService(
        unit=unit("kube-scheduler"),
        unit_file=render_unit("kube-scheduler", scheduler_args(cluster)),
        files=(
            ServiceFile(SCHEDULER_CONFIG, to_yaml([scheduler_configuration(cluster)])),
            _release(cluster, "kube-scheduler"),
        ),
        health=Health(port=SCHEDULER_PORT, timeout=120),
    )


def kubelet_service(cluster: Cluster, host: str) -> SystemdService:
    """The kubelet on ``host``; a master that is not also a worker registers tainted."""
    roles = _roles(cluster, host)
    config = binary_kubelet_configuration(cluster)
    if "master" in roles and "worker" not in roles:
        config["registerWithTaints"] = [{"key": CONTROL_PLANE_TAINT, "effect": "NoSchedule"}]
    return SystemdService(
        unit=unit("kubelet"),
        unit_file=render_unit("kubelet", kubelet_args(cluster, host, _address(cluster, host))),
        files=(ServiceFile(KUBELET_CONFIG, to_yaml([config])), _release(cluster, "kubelet")),
        health=Health(port=KUBELET_PORT, timeout=120),
    )


def kube_proxy_service(cluster: Cluster, host: str) -> SystemdService:
    return SystemdService(
        unit=unit("kube-proxy"),
        unit_file=render_unit("kube-proxy", kube_proxy_args(cluster)),
        files=(
            ServiceFile(
                KUBE_PROXY_CONFIG, to_yaml([binary_kube_proxy_configuration(cluster, host)])
            ),
            _release(cluster, "kube-proxy"),
        ),
        health=Health(port=KUBE_PROXY_HEALTH_PORT, timeout=120),
    )


def _host(cluster: Cluster, name: str) -> ResolvedHost:
    for host in cluster.resolved_hosts():
        if host.name == name:
            return host
    raise KeyError(name)


def _address(cluster: Cluster, name: str) -> str:
    return str(_host(cluster, name).internal_address)


def _roles(cluster: Cluster, name: str) -> set[str]:
    return set(_host(cluster, name).roles)


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
        tasks.append(
            Task(
                f"node-{name}",
                [
                    *_artifacts(cluster, NODE_ARTIFACTS),
                    PlacePKIFiles(node_pki_files(with_ca=with_ca), name="node-certificates"),
                    kubelet_service(cluster, name),
                    kube_proxy_service(cluster, name),
                ],
                hosts,
            )
        )
    return tasks


class BinaryControlPlaneModule(Module):
    """Phase ``control-plane`` in binary mode (see the module docstring)."""

    name = "control-plane"

    @staticmethod
    def artifact_components(cluster: Cluster) -> frozenset[str]:
        return frozenset((*CONTROL_PLANE_ARTIFACTS, *NODE_ARTIFACTS))

    @staticmethod
    def pki_names(cluster: Cluster) -> frozenset[str]:
        return pki_names(cluster)

    @staticmethod
    def host_roles(cluster: Cluster) -> frozenset[str]:
        return frozenset({"master"})

    def host_needs(self, ctx: PlanContext) -> Sequence[HostNeeds]:
        return control_plane_host_needs()

    def tasks(self, ctx: PlanContext) -> Sequence[Task]:
        cluster = ctx.config
        _check_mode(cluster)
        masters = [host.name for host in cluster.hosts_with_role("master")]
        placed = PlacePKIFiles(
            (PKIFile(STORED_NAME, ENCRYPTION_CONFIG, 0o600),),
            pki_dir=str(encryption_directory(cluster)),
            name="encryption-config",
        )
        tasks = [
            Task("encryption-key", [EncryptionKey()], ControlMachine()),
            Task(
                "prepare",
                [
                    *_artifacts(cluster, CONTROL_PLANE_ARTIFACTS),
                    PlacePKIFiles(master_pki_files(cluster), name="certificates"),
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
                    PlacePKIFiles(
                        (PKIFile("kubeconfig/super-admin.conf", SUPER_ADMIN_CONF),),
                        name="super-admin",
                    ),
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


class BinaryWorkersModule(Module):
    """Phase ``workers`` in binary mode: the kubelet and kube-proxy on every worker that is
    not a master (the masters got theirs in ``control-plane``)."""

    name = "workers"

    @staticmethod
    def artifact_components(cluster: Cluster) -> frozenset[str]:
        return frozenset(NODE_ARTIFACTS)

    @staticmethod
    def pki_names(cluster: Cluster) -> frozenset[str]:
        return pki_names(cluster)

    @staticmethod
    def host_roles(cluster: Cluster) -> frozenset[str]:
        return frozenset({"worker"})

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
