"""The registry phase of ``create cluster`` (``spec.registry.type: registry``).

On the ``registry`` role host: the distribution registry from the artifact store, as
``kubexms-registry.service`` listening on the port ``privateRegistry`` names (443 by default)
with TLS from a registry CA kubexms makes in the work dir's PKI, htpasswd logins from
``spec.registry.auths`` and its storage in a data dir no run ever wipes. Every node resolves
the registry's name through a managed block of /etc/hosts. Then the store's images are pushed
into it (from this machine, which must reach and resolve the registry like any client).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kubexms.artifacts import ArtifactStore, ImageStore, registry_host, registry_port
from kubexms.artifacts._image_copy import missing_in_registry, push_images
from kubexms.config import Cluster, Role
from kubexms.engine import (
    ControlMachine,
    HostNeeds,
    PlanContext,
    Roles,
    Step,
    Task,
    branches,
)
from kubexms.pki import default_pki_directory
from kubexms.registry._config import (
    DATA_DIR,
    HTPASSWD,
    TLS_CERT,
    TLS_KEY,
    UNIT,
    UNIT_NAME,
    render_config,
    render_htpasswd,
)
from kubexms.registry._needs import registry_host_needs
from kubexms.registry._pki import CA_CERT, SERVER_CERT, SERVER_KEY, RegistryPki
from kubexms.runner import Change
from kubexms.runtime import Context
from kubexms.steps import (
    ComponentModule,
    Directory,
    Health,
    HostsEntries,
    PKIFile,
    PlaceArtifact,
    PlacePKIFiles,
    ServiceFile,
    SystemdService,
)

ARTIFACT = "registry"
ROLE: Role = "registry"
HOSTS_MARKER = "kubexms-registry"


def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def registry_name(cluster: Cluster) -> str:
    """The host name (or address) of ``privateRegistry``, without port and path."""
    return registry_host(cluster.spec.registry.private_registry).rsplit(":", 1)[0]


def _registry_hosts(cluster: Cluster) -> list[tuple[str, str]]:
    """(name, internal address) of the registry role hosts, config order."""
    return [
        (host.name, host.internal_address)
        for host in cluster.resolved_hosts()
        if ROLE in host.roles
    ]


def certificate_names(cluster: Cluster) -> tuple[str, ...]:
    names = [registry_name(cluster)]
    for host_name, address in _registry_hosts(cluster):
        names += [host_name, address]
    return tuple(dict.fromkeys(names))


def _logins(cluster: Cluster) -> dict[str, str]:
    host = registry_host(cluster.spec.registry.private_registry)
    auth = cluster.spec.registry.auths.get(host) or cluster.spec.registry.auths.get(
        registry_name(cluster)
    )
    return {auth.username: auth.password.get_secret_value()} if auth is not None else {}


def registry_service(cluster: Cluster) -> SystemdService:
    port = registry_port(cluster.spec.registry.private_registry)
    logins = _logins(cluster)
    files = [ServiceFile("/etc/kubexms-registry/config.yml", render_config(port, bool(logins)))]
    if logins:
        files.append(
            ServiceFile(HTPASSWD, render_htpasswd(cluster.name, logins), mode=0o600, secret=True)
        )
    return SystemdService(
        unit=UNIT_NAME,
        unit_file=UNIT,
        files=tuple(files),
        health=Health(port=port, timeout=60),
        name="service",
    )


@dataclass(frozen=True)
class PushImages(Step):
    """The store's images in the private registry, each with the digest recorded at pull."""

    name: str = "push-images"

    description = "images of the store pushed into the private registry"
    timeout = 3600.0

    def _arguments(self, ctx: Context) -> tuple[ImageStore, str, dict[str, object]]:
        cluster = ctx.cluster.config
        registry = cluster.spec.registry
        auths = {
            host: (auth.username, auth.password.get_secret_value())
            for host, auth in registry.auths.items()
        }
        options: dict[str, object] = {
            "auths": auths,
            "ca_file": default_pki_directory(cluster) / CA_CERT,
            "insecure": registry.insecure_registries,
        }
        return ImageStore(ArtifactStore.for_cluster(cluster)), registry.private_registry, options

    async def precheck(self, ctx: Context) -> Change:
        store, registry, options = self._arguments(ctx)
        if not store.entries():
            return Change(False, "push images")
        missing = await missing_in_registry(store, registry, **options)  # type: ignore[arg-type]
        detail = f"would push {', '.join(e.ref for e in missing)}" if missing else ""
        return Change(bool(missing), "push images", detail)

    async def run(self, ctx: Context) -> Change:
        store, registry, options = self._arguments(ctx)
        if not store.entries():
            return Change(False, "push images")
        missing = await missing_in_registry(store, registry, **options)  # type: ignore[arg-type]
        if missing:
            await push_images(store, registry, entries=missing, **options)  # type: ignore[arg-type]
        detail = f"pushed {', '.join(e.ref for e in missing)}" if missing else ""
        return Change(bool(missing), "push images", detail)


class RegistryModule(ComponentModule):
    """The ``registry`` phase (see the module docstring); nothing of the cluster PKI: the
    registry has a CA of its own (``RegistryPki``)."""

    name = "registry"
    artifacts = (ARTIFACT,)
    roles = (ROLE,)

    def __init__(self, *, push: bool = True) -> None:
        super().__init__()
        self.push = push

    @classmethod
    def installs(cls, cluster: Cluster) -> bool:
        """Only ``registry.type: registry`` (kubexms runs the registry)."""
        return cluster.spec.registry.type == "registry"

    def host_needs(self, ctx: PlanContext) -> Sequence[HostNeeds]:
        """Its port on the registry host (held by kubexms-registry.service on a rerun)."""
        return registry_host_needs(ctx.config)

    def tasks(self, ctx: PlanContext) -> Sequence[Task]:
        # Parallel branches, except where _after says a task waits for others.
        found = self._unordered_tasks(ctx)
        return branches(found, self._after(found))

    def _unordered_tasks(self, ctx: PlanContext) -> Sequence[Task]:
        cluster = ctx.config
        if not self.installs(cluster):
            return []
        hosts = Roles(ROLE)
        tasks = [
            Task("pki", [RegistryPki(certificate_names(cluster))], ControlMachine()),
            Task(
                "install",
                [
                    PlaceArtifact(
                        ARTIFACT,
                        "/usr/local/bin",
                        extract=True,
                        members=("registry",),
                        name="binary",
                    ),
                    Directory(DATA_DIR, mode=0o700, name="data-dir"),
                    PlacePKIFiles(
                        (PKIFile(SERVER_CERT, TLS_CERT), PKIFile(SERVER_KEY, TLS_KEY)),
                        name="certificate",
                    ),
                    registry_service(cluster),
                ],
                hosts,
            ),
        ]
        name = registry_name(cluster)
        registries = _registry_hosts(cluster)
        if not _is_address(name) and registries:
            entry = ((registries[0][1], name),)
            tasks.append(
                Task(
                    "name",
                    [HostsEntries(entry, HOSTS_MARKER, name="hosts-entry")],
                    Roles("master", "worker", ROLE),
                )
            )
        if self.push:
            tasks.append(Task("push-images", [PushImages()], ControlMachine()))
        return tasks

    def _after(self, tasks: Sequence[Task]) -> Mapping[str, Sequence[str]]:
        names = [task.name for task in tasks]
        after: dict[str, Sequence[str]] = {}
        if "install" in names:
            after["install"] = ["pki"]
        if "push-images" in names:
            after["push-images"] = ["install"]
        return after
