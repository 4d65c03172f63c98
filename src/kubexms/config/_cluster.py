"""The whole cluster file: ``apiVersion``, ``kind``, ``metadata`` and ``spec``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, PrivateAttr, model_validator

from kubexms.config._addons import Addon
from kubexms.config._artifacts import Artifacts
from kubexms.config._base import ConfigModel
from kubexms.config._checks import SpecParts, spec_problems
from kubexms.config._errors import ConfigError, Loc, issues_at
from kubexms.config._etcd import Etcd
from kubexms.config._hosts import ROLES, GlobalSettings, Host, RoleGroups, resolve_host
from kubexms.config._kubernetes import ControlPlaneEndpoint, Kubernetes
from kubexms.config._network import Network
from kubexms.config._os_packages import OSPackages
from kubexms.config._registry import Registry
from kubexms.config._resolved import ResolvedHost
from kubexms.config._types import Name, NoneAsEmpty

API_VERSION = "kubexms.io/v1alpha1"
KIND = "Cluster"


class Metadata(ConfigModel):
    """What the cluster is called; the name also names its local work directory."""

    name: Name


class Spec(ConfigModel):
    """The desired cluster."""

    hosts: list[Host] = Field(min_length=1)
    role_groups: RoleGroups
    global_: GlobalSettings = Field(default_factory=GlobalSettings, alias="global")
    control_plane_endpoint: ControlPlaneEndpoint = Field(default_factory=ControlPlaneEndpoint)
    kubernetes: Kubernetes = Field(default_factory=Kubernetes)
    etcd: Etcd = Field(default_factory=Etcd)
    network: Network = Field(default_factory=Network)
    registry: Registry = Field(default_factory=Registry)
    addons: Annotated[list[Addon], NoneAsEmpty] = Field(default_factory=list)
    artifacts: Artifacts = Field(default_factory=Artifacts)
    os_packages: OSPackages = Field(default_factory=OSPackages)

    def parts(self) -> SpecParts:
        """All of this spec, for the cross-field checks."""
        return SpecParts(
            host_names=[host.name for host in self.hosts],
            hosts=self.hosts,
            role_groups=self.role_groups,
            global_=self.global_,
            control_plane_endpoint=self.control_plane_endpoint,
            etcd=self.etcd,
            network=self.network,
            addons=self.addons,
            kubernetes=self.kubernetes,
        )


class Cluster(ConfigModel):
    """A parsed and validated cluster file.

    Constructing one checks the cross-field rules too and raises `ConfigError` (without line
    numbers) when they fail; `load_config` and `parse_config` add the YAML lines.
    """

    api_version: Literal["kubexms.io/v1alpha1"] = Field(alias="apiVersion")
    kind: Literal["Cluster"]
    metadata: Metadata
    spec: Spec

    # Where `${VAR}` references were, so `dump_config` writes them back instead of secrets.
    _env_references: dict[Loc, str] = PrivateAttr(default_factory=dict)
    # resolved_hosts() of the spec it was computed from (the model is frozen; a copy with
    # another spec carries this along, hence the identity check).
    _resolved: tuple[Spec, tuple[ResolvedHost, ...]] | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _check_cross_field_rules(self) -> Cluster:
        problems = spec_problems(self.spec.parts())
        if problems:
            # Not a ValueError on purpose: pydantic lets it through with its paths intact.
            raise ConfigError(issues_at(problems), source="<cluster>")
        return self

    @property
    def name(self) -> str:
        """``metadata.name``."""
        return self.metadata.name

    def resolved_hosts(self) -> list[ResolvedHost]:
        """Every host with inherited and default values filled in, in config order.

        Resolved once per spec (planning asks for them per module and role; at 5,000 hosts
        resolving them again each time was most of the planning time); a copy of this cluster
        with another spec (``model_copy(update=...)``) resolves its own.
        """
        cached = self._resolved
        if cached is not None and cached[0] is self.spec:
            return list(cached[1])
        roles_of: dict[str, set[str]] = {}
        for role in ROLES:
            for name in self.spec.role_groups.members(role):
                roles_of.setdefault(name, set()).add(role)
        resolved = tuple(
            resolve_host(host, self.spec.global_, frozenset(roles_of.get(host.name, ())))
            for host in self.spec.hosts
        )
        self._resolved = (self.spec, resolved)
        return list(resolved)

    def hosts_with_role(self, role: str) -> list[ResolvedHost]:
        """The hosts in one role group, in config order (so "the first master" is stable)."""
        if role not in ROLES:
            raise KeyError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
        return [host for host in self.resolved_hosts() if role in host.roles]

    @property
    def work_dir(self) -> Path:
        """``global.workDir`` (``~`` expanded, made absolute) or ``./.kubexms/<metadata.name>``."""
        configured = self.spec.global_.work_dir
        path = configured.expanduser() if configured is not None else Path(".kubexms") / self.name
        return path if path.is_absolute() else Path.cwd() / path

    @property
    def known_hosts_path(self) -> Path:
        """``global.knownHostsPath`` with ``~`` expanded."""
        return self.spec.global_.known_hosts_path.expanduser()
