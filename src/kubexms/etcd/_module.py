"""The etcd phase of ``create cluster``: mostly declarations on the building blocks.

With ``etcd.type: kubexm`` every etcd host gets, in parallel: the binaries from the artifact
store, its data dir (refused if it holds another cluster's data), its certificates in kubeadm's
layout, and ``etcd.service`` with its one configuration file. A member that is not running is
started, all of them at once on first creation (a member waits for a quorum), each waiting
until it is healthy over TLS. Then the first etcd host checks that every member is healthy and
that the member list is the role group. A changed setting is applied by restarting the members
one after another, each healthy before the next (``rolling``), so quorum is never lost. Last,
the scheduled-backup timer is installed (or removed) as ``spec.etcd.backup.schedule`` says.

With ``etcd.type: kubeadm`` (stacked) this phase does nothing: the control-plane phase makes
kubeadm run etcd as static pods on the masters.

With ``etcd.type: external`` nothing is installed: the user's CA and client certificate go to
the masters (for the API server) and every endpoint is checked over TLS from the first master.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from kubexms.config import Cluster
from kubexms.engine import (
    FirstOf,
    HostNeeds,
    Named,
    PlanContext,
    PlanError,
    Roles,
    Task,
    branches,
)
from kubexms.etcd._cluster_id import cluster_id, format_id
from kubexms.etcd._config import EtcdVersionError, check_version, render_member_config, render_unit
from kubexms.etcd._layout import (
    APISERVER_CLIENT_CERT,
    APISERVER_CLIENT_KEY,
    BIN_DIR,
    CA_CERT,
    CERT_MODE,
    CONFIG_FILE,
    ETCDCTL_ENV,
    ETCDCTL_PROFILE,
    HEALTHCHECK_CERT,
    HEALTHCHECK_KEY,
    KEY_MODE,
    PEER_CERT,
    PEER_KEY,
    RELEASE_FILE,
    SERVER_CERT,
    SERVER_KEY,
    UNIT_NAME,
    client_endpoints,
    cluster_token,
    etcdctl_command,
    etcdctl_environment,
    members,
    render_environment,
)
from kubexms.etcd._needs import etcd_host_needs
from kubexms.etcd._schedule import backup_schedule_task
from kubexms.etcd._steps import EtcdClusterHealthy, EtcdDataDir, ExternalEtcdReachable
from kubexms.steps import (
    ComponentModule,
    Health,
    PKIFile,
    PlaceArtifact,
    PlacePKIFiles,
    RestartService,
    ServiceFile,
    SystemdService,
    one_after_another,
    pki_items,
    rolling,
)

ARTIFACT = "etcd"
"""The BOM component holding etcd's release tarball."""
HEALTH = Health(
    command=etcdctl_command("endpoint health --command-timeout=3s"), timeout=90, interval=0.3
)
_PROFILE = f"""# Written by kubexms: etcdctl on this host talks to the local member over TLS.
if [ -r {ETCDCTL_ENV} ]; then set -a; . {ETCDCTL_ENV}; set +a; fi
"""


def etcd_warnings(cluster: Cluster) -> list[str]:
    """Warnings about the etcd the cluster file asks for (an older version than supported)."""
    etcd = cluster.spec.etcd
    if etcd.type != "kubexm":
        return []
    try:
        verdict = check_version(etcd.version, cluster.spec.kubernetes.version)
    except EtcdVersionError:
        return []  # planning refuses it with the reason
    return [verdict.warning] if verdict.warning else []


def _binaries(version: str) -> tuple[str, ...]:
    # etcdutl exists from 3.5 on; a release tarball of 3.4 has only etcd and etcdctl.
    numbers = tuple(int(part) for part in version.lstrip("v").split(".")[:2])
    names = ("etcd", "etcdctl", "etcdutl") if numbers >= (3, 5) else ("etcd", "etcdctl")
    return tuple(f"etcd-{{version}}-linux-{{arch}}/{name}" for name in names)


def member_pki_files() -> tuple[PKIFile, ...]:
    """The certificates an etcd member needs, from the cluster PKI, in kubeadm's layout."""
    return (
        PKIFile("etcd/ca.crt", CA_CERT),
        PKIFile("etcd/server-{host}.crt", SERVER_CERT),
        PKIFile("etcd/server-{host}.key", SERVER_KEY),
        PKIFile("etcd/peer-{host}.crt", PEER_CERT),
        PKIFile("etcd/peer-{host}.key", PEER_KEY),
        PKIFile("etcd/healthcheck-client.crt", HEALTHCHECK_CERT),
        PKIFile("etcd/healthcheck-client.key", HEALTHCHECK_KEY),
    )


def member_service(cluster: Cluster, host: str) -> SystemdService:
    """etcd.service on ``host`` with its configuration; restarts are left to the roll."""
    return SystemdService(
        unit=UNIT_NAME,
        unit_file=render_unit(),
        files=(
            ServiceFile(CONFIG_FILE, render_member_config(cluster, host)),
            # The binaries are replaced under a running member: naming the release here makes
            # a new version roll through the members like a changed setting.
            ServiceFile(RELEASE_FILE, f"{cluster.spec.etcd.version}\n"),
            ServiceFile(ETCDCTL_ENV, render_environment(etcdctl_environment())),
            ServiceFile(ETCDCTL_PROFILE, _PROFILE),
        ),
        health=HEALTH,
        defer_restart=True,
        name="service",
    )


class EtcdModule(ComponentModule):
    """The ``etcd`` phase (see the module docstring)."""

    name = "etcd"
    artifacts = (ARTIFACT,)

    @classmethod
    def installs(cls, cluster: Cluster) -> bool:
        """Only ``etcd.type: kubexm``: external etcd and kubeadm's stacked etcd get nothing."""
        return cluster.spec.etcd.type == "kubexm"

    @classmethod
    def certificates(cls, cluster: Cluster) -> Iterable[str]:
        """Every member's files (the etcd CA, its server and peer certificates, the
        healthcheck client), and the API server's etcd client (the one clients such as
        etcdctl on this machine use)."""
        placed = pki_items((member.name, member_pki_files()) for member in members(cluster))
        return {*placed, "apiserver-etcd-client"}

    @classmethod
    def host_roles(cls, cluster: Cluster) -> frozenset[str]:
        """The etcd hosts; for external etcd the masters (its client files go there)."""
        return frozenset({"etcd"}) if cls.installs(cluster) else frozenset({"master"})

    def host_needs(self, ctx: PlanContext) -> Sequence[HostNeeds]:
        """etcd's ports on its hosts (preflight checks them free, or held by etcd.service)."""
        return etcd_host_needs(ctx.config)

    def tasks(self, ctx: PlanContext) -> Sequence[Task]:
        # Parallel branches, except where _after says a task waits for others.
        found = self._unordered_tasks(ctx)
        return branches(found, self._after(found))

    def _unordered_tasks(self, ctx: PlanContext) -> Sequence[Task]:
        cluster = ctx.config
        etcd = cluster.spec.etcd
        if etcd.type == "kubeadm":
            return []  # stacked etcd: kubeadm's static pods, made by the control-plane phase
        if etcd.type == "external":
            return self._external_tasks(cluster)
        try:
            check_version(etcd.version, cluster.spec.kubernetes.version)
        except EtcdVersionError as error:
            raise PlanError(f"spec.etcd.version: {error}") from None
        return self._member_tasks(ctx, cluster)

    def _member_tasks(self, ctx: PlanContext, cluster: Cluster) -> list[Task]:
        etcd = cluster.spec.etcd
        group = members(cluster)
        hosts = Roles("etcd")
        expected = format_id(cluster_id(group, cluster_token(cluster)))
        tasks = [
            Task(
                "binaries",
                [
                    PlaceArtifact(
                        ARTIFACT,
                        BIN_DIR,
                        version=etcd.version,
                        extract=True,
                        members=_binaries(etcd.version),
                        strip_components=1,
                        name="binaries",
                    )
                ],
                hosts,
            ),
            Task("data-dir", [EtcdDataDir(str(etcd.data_dir), expected)], hosts),
            Task(
                "certificates",
                [PlacePKIFiles(member_pki_files(), name="certificates")],
                hosts,
            ),
        ]
        services = [
            Task(f"service-{m.name}", [member_service(cluster, m.name)], Named([m.name]))
            for m in group
        ]
        check = EtcdClusterHealthy(
            tuple(f"{member.name}={member.peer_url}" for member in group),
            tuple(client_endpoints(cluster)),
        )
        roll = rolling(ctx, "restart", [RestartService(UNIT_NAME, health=HEALTH)], hosts)
        return [
            *tasks,
            *services,
            Task("cluster", [check], FirstOf("etcd")),
            *roll,
            # The roll ends with another look at the whole cluster.
            Task("cluster-after-restarts", [check], FirstOf("etcd")),
            backup_schedule_task(cluster),
        ]

    def _external_tasks(self, cluster: Cluster) -> list[Task]:
        external = cluster.spec.etcd.external
        wanted = [
            (external.ca_file, CA_CERT, CERT_MODE),
            (external.cert_file, APISERVER_CLIENT_CERT, CERT_MODE),
            (external.key_file, APISERVER_CLIENT_KEY, KEY_MODE),
        ]
        # The user's files live anywhere on this machine: sources relative to "/".
        files = tuple(
            PKIFile(str(source.expanduser().absolute()).lstrip("/"), dest, mode)
            for source, dest, mode in wanted
            if source is not None
        )
        on_host = [dest if source is not None else None for source, dest, _ in wanted]
        tasks = []
        if files:
            placed = PlacePKIFiles(files, pki_dir="/", name="external-files")
            tasks.append(Task("external-files", [placed], Roles("master")))
        ca, cert, key = on_host
        reachable = ExternalEtcdReachable(tuple(external.endpoints), ca, cert, key)
        tasks.append(Task("external-endpoints", [reachable], FirstOf("master")))
        return tasks

    def _after(self, tasks: Sequence[Task]) -> Mapping[str, Sequence[str]]:
        names = [task.name for task in tasks]
        if "external-endpoints" in names:
            return {"external-endpoints": ["external-files"]} if "external-files" in names else {}
        prepared = ["binaries", "data-dir", "certificates"]
        services = [name for name in names if name.startswith("service-")]
        roll = [task for task in tasks if task.name.startswith("restart-")]
        after: dict[str, Sequence[str]] = {name: prepared for name in services}
        after["cluster"] = services
        after.update(one_after_another(roll, first_after=["cluster"]))
        after["cluster-after-restarts"] = [roll[-1].name] if roll else ["cluster"]
        if "backup-schedule" in names:
            after["backup-schedule"] = ["cluster-after-restarts"]
        return after
