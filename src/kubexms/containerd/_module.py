"""The container-runtime phase of ``create cluster``: containerd on every node.

Every master and worker gets, in parallel: no containerd of another origin (refused, see
:class:`NoForeignContainerd`); containerd (``bin/*``), runc, the CNI plugins and crictl from
the artifact store; the private registry's CA beside its ``hosts.toml``; ``containerd.service``
with config.toml and the ``hosts.toml`` files as its own files, so a changed registry setting
rewrites only what differs and restarts containerd once; ``/etc/crictl.yaml``; and, without a
private registry, the images of the host's roles imported from the store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kubexms.artifacts import registry_host, sandbox_image
from kubexms.config import Cluster
from kubexms.containerd._config import CRICTL_YAML, UNIT, registry_hosts, render_config
from kubexms.containerd._layout import (
    ARTIFACTS,
    BIN_DIR,
    CERTS_DIR,
    CNI_BIN_DIR,
    CNI_PLUGINS,
    CONFIG_FILE,
    CONTAINERD,
    CRICTL,
    CRICTL_BIN,
    CRICTL_CONFIG,
    CTR,
    ROLES,
    RUNC,
    RUNC_ARTIFACT,
    SOCKET,
    UNIT_NAME,
)
from kubexms.containerd._needs import containerd_host_needs
from kubexms.containerd._steps import (
    ImportImages,
    ManagedFile,
    NoForeignContainerd,
    StaleRegistryHosts,
)
from kubexms.engine import ControlMachine, HostNeeds, PlanContext, Roles, Task, branches
from kubexms.registry import RegistryPki
from kubexms.registry._module import certificate_names
from kubexms.steps import (
    ComponentModule,
    Health,
    PKIFile,
    PlaceArtifact,
    PlacePKIFiles,
    ServiceFile,
    SystemdService,
)

REGISTRY_CA = "registry/ca.crt"
"""The CA of the registry kubexms runs (``registry.type: registry``), in the work dir's PKI."""

# The CRI plugin loaded: what the kubelet talks to. Where the placed crictl runs, `crictl
# info` must answer too (the CRI's Status over its socket). A crictl that cannot even say its
# version (another architecture, a stand-in) is no judge of containerd, so it is not asked.
HEALTH = Health(
    command=(
        f'{CTR} plugins ls | awk \'$1 == "io.containerd.grpc.v1" && $2 == "cri" '
        '{ ok = ($NF == "ok") } END { exit !ok }\' && '
        f"{{ ! {CRICTL_BIN} --version >/dev/null 2>&1 || "
        f"{CRICTL_BIN} --runtime-endpoint unix://{SOCKET} info >/dev/null; }}"
    ),
    timeout=60,
)


def registry_auths(cluster: Cluster) -> dict[str, tuple[str, str]]:
    """Registry host -> (user, password) from ``spec.registry.auths``."""
    return {
        host: (auth.username, auth.password.get_secret_value())
        for host, auth in cluster.spec.registry.auths.items()
    }


def _private_ca(cluster: Cluster) -> PlacePKIFiles | None:
    registry = cluster.spec.registry
    if not registry.private_registry:
        return None
    dest = f"{CERTS_DIR}/{registry_host(registry.private_registry)}/ca.crt"
    if registry.type == "registry":
        return PlacePKIFiles((PKIFile(REGISTRY_CA, dest, 0o644),), name="registry-ca")
    if registry.ca_file is not None:
        # The user's file lives anywhere on this machine: a source relative to "/".
        source = str(registry.ca_file.expanduser().absolute()).lstrip("/")
        return PlacePKIFiles((PKIFile(source, dest, 0o644),), pki_dir="/", name="registry-ca")
    return None


def containerd_service(cluster: Cluster) -> SystemdService:
    """containerd.service with config.toml and every registry's hosts.toml."""
    version = cluster.spec.kubernetes.container_runtime.version
    auths = registry_auths(cluster)
    config = render_config(version, sandbox_image(cluster), auths)
    has_ca = _private_ca(cluster) is not None
    files = [ServiceFile(CONFIG_FILE, config, mode=0o600, secret=bool(auths))]
    for hosts in registry_hosts(cluster.spec.registry, has_ca):
        files.append(ServiceFile(f"{hosts.directory}/hosts.toml", hosts.hosts_toml))
    return SystemdService(
        unit=UNIT_NAME, unit_file=UNIT, files=tuple(files), health=HEALTH, name="service"
    )


class ContainerRuntimeModule(ComponentModule):
    """The ``container-runtime`` phase (see the module docstring); nothing of the cluster PKI."""

    name = "container-runtime"
    artifacts = ARTIFACTS
    roles = ROLES

    def host_needs(self, ctx: PlanContext) -> Sequence[HostNeeds]:
        """Kernel modules and sysctls (OS prep applies them, preflight checks them)."""
        return containerd_host_needs(ctx.config)

    def tasks(self, ctx: PlanContext) -> Sequence[Task]:
        # Parallel branches, except where _after says a task waits for others.
        found = self._unordered_tasks(ctx)
        return branches(found, self._after(found))

    def _unordered_tasks(self, ctx: PlanContext) -> Sequence[Task]:
        cluster = ctx.config
        hosts = Roles(*ROLES)
        version = cluster.spec.kubernetes.container_runtime.version
        binaries = [
            PlaceArtifact(
                CONTAINERD,
                BIN_DIR,
                version=version,
                extract=True,
                strip_components=1,
                name="containerd",
            ),
            PlaceArtifact(RUNC_ARTIFACT, RUNC, mode=0o755, name="runc"),
            PlaceArtifact(CNI_PLUGINS, CNI_BIN_DIR, extract=True, name="cni-plugins"),
            PlaceArtifact(CRICTL, BIN_DIR, extract=True, members=("crictl",), name="crictl"),
        ]
        tasks = [
            Task("no-foreign-containerd", [NoForeignContainerd()], hosts),
            Task("binaries", binaries, hosts),
        ]
        ca = _private_ca(cluster)
        if cluster.spec.registry.type == "registry":
            # The registry phase runs later; its CA must exist before the nodes trust it.
            pki = RegistryPki(certificate_names(cluster))
            tasks.append(Task("registry-pki", [pki], ControlMachine()))
        if ca is not None:
            tasks.append(Task("registry-ca", [ca], hosts))
        wanted = tuple(item.host for item in registry_hosts(cluster.spec.registry, False))
        tasks += [
            Task("stale-registry-hosts", [StaleRegistryHosts(CERTS_DIR, wanted)], hosts),
            Task("service", [containerd_service(cluster)], hosts),
            Task("crictl-config", [ManagedFile(CRICTL_CONFIG, CRICTL_YAML)], hosts),
        ]
        if not cluster.spec.registry.private_registry:
            tasks.append(Task("images", [ImportImages()], hosts))
        return tasks

    def _after(self, tasks: Sequence[Task]) -> Mapping[str, Sequence[str]]:
        names = [task.name for task in tasks]
        before_service = [n for n in ("binaries", "registry-ca") if n in names]
        after: dict[str, Sequence[str]] = {"binaries": ["no-foreign-containerd"]}
        if "registry-ca" in names:
            first = ["no-foreign-containerd"]
            after["registry-ca"] = [*first, "registry-pki"] if "registry-pki" in names else first
        after["service"] = before_service
        if "images" in names:
            after["images"] = ["service"]
        return after
