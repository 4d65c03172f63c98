"""The machines of the cluster: hosts, their bastions, the global defaults, and role groups."""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, SecretStr

from kubexms.config._base import ConfigModel
from kubexms.config._host_ranges import expand_host_pattern
from kubexms.config._resolved import ResolvedBastion, ResolvedHost
from kubexms.config._roles import ROLES as ROLES
from kubexms.config._roles import Role as Role
from kubexms.config._roles import unknown_roles as unknown_roles
from kubexms.config._types import (
    Address,
    Count,
    FilePath,
    LabelKey,
    LabelValue,
    Name,
    NoneAsEmpty,
    NonNegativeSeconds,
    Port,
    Seconds,
    Secret,
    UserName,
    invalid,
)

AUTH_FIELDS: tuple[str, ...] = ("password", "private_key_path", "private_key")
"""The ways to log in; a host, a bastion or the global section may set at most one of them."""


def _off_is_not_false(value: object) -> object:
    # YAML 1.1 reads an unquoted `off` as the boolean false; the user meant the policy "off".
    return "off" if value is False else value


HostKeyPolicy = Annotated[
    Literal["strict", "accept-new", "off"], BeforeValidator(_off_is_not_false)
]
ConnectorKind = Literal["ssh", "local"]
Arch = Literal["amd64", "arm64"]


def auth_methods(model: ConfigModel) -> list[str]:
    """The attribute names of the login methods set on a host, bastion or `global`."""
    return [name for name in AUTH_FIELDS if getattr(model, name, None) is not None]


class Bastion(ConfigModel):
    """A jump host to reach a host through. User and credentials default to the host's own."""

    address: Address
    port: Port | None = None
    user: UserName | None = None
    password: Secret | None = None
    private_key_path: FilePath | None = None
    private_key: Secret | None = None


class Host(ConfigModel):
    """One machine. Unset fields (user, port, credentials, bastion) come from `global`."""

    name: Name
    address: Address
    internal_address: Address | None = None
    port: Port | None = None
    user: UserName | None = None
    password: Secret | None = None
    private_key_path: FilePath | None = None
    private_key: Secret | None = None
    sudo_password: Secret | None = None
    arch: Arch | None = None
    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict)
    bastion: Bastion | None = Field(
        default=None,
        description="Jump host for this host; `null` turns off the global bastion for it.",
    )
    connector: ConnectorKind = "ssh"


class GlobalSettings(ConfigModel):
    """Defaults inherited by every host, and how the control machine talks to the fleet."""

    user: UserName = "root"
    port: Port = 22
    password: Secret | None = None
    private_key_path: FilePath | None = None
    private_key: Secret | None = None
    sudo_password: Secret | None = None
    bastion: Bastion | None = None
    connection_timeout: Seconds = Field(default=30.0, description="Seconds for the whole start-up.")
    command_timeout: Seconds = Field(default=600.0, description="Default seconds per command.")
    connect_concurrency: Count = Field(default=64, description="Simultaneous SSH handshakes.")
    concurrency: Count = Field(default=50, description="Hosts worked on at once.")
    work_dir: FilePath | None = Field(
        default=None, description="Local state directory; default ./.kubexms/<metadata.name>."
    )
    host_key_policy: HostKeyPolicy = "strict"
    known_hosts_path: FilePath = Path("~/.ssh/known_hosts")
    keepalive_interval: NonNegativeSeconds = Field(
        default=15.0, description="Seconds between SSH keepalives; 0 turns them off."
    )
    keepalive_count_max: Count = Field(
        default=2,
        description="Unanswered keepalives after which a host counts as lost (it fails within "
        "keepaliveInterval x (keepaliveCountMax + 1) seconds of going silent).",
    )
    stop_grace: NonNegativeSeconds = Field(
        default=5.0,
        description="Seconds a stopped remote command (interrupt, timeout) gets between TERM "
        "and KILL, e.g. for a package manager to end its transaction.",
    )


def _check_pattern(value: str) -> str:
    try:
        expand_host_pattern(value)
    except ValueError as exc:
        raise invalid(str(exc)) from None
    return value


HostPattern = Annotated[str, AfterValidator(_check_pattern)]
PatternList = Annotated[list[HostPattern], NoneAsEmpty]


class RoleGroups(ConfigModel):
    """Which hosts play which role: lists of host names or ranges such as ``node[01:10]``."""

    master: PatternList = Field(default_factory=list)
    worker: PatternList = Field(default_factory=list)
    etcd: PatternList = Field(default_factory=list)
    loadbalancer: PatternList = Field(default_factory=list)
    registry: PatternList = Field(default_factory=list)

    def patterns(self, role: str) -> list[str]:
        """The entries of one role group as written."""
        if role not in ROLES:
            raise KeyError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
        patterns: list[str] = getattr(self, role)
        return patterns

    def members(self, role: str) -> list[str]:
        """The host names of one role group with ranges expanded, first mention first."""
        names: dict[str, None] = {}
        for pattern in self.patterns(role):
            names.update(dict.fromkeys(expand_host_pattern(pattern)))
        return list(names)


def _expand(path: Path | None) -> Path | None:
    return None if path is None else path.expanduser()


def resolve_host(host: Host, global_: GlobalSettings, roles: frozenset[str]) -> ResolvedHost:
    """Fill a host's unset fields.

    user and port come from ``global`` when unset. A host that sets any login method uses only
    its own; otherwise it inherits global's. ``sudoPassword`` falls back to global's, then to the
    password. The bastion is the host's own if the key is present (``null`` means none), else
    global's; its user and credentials default to the host's. ``~`` is expanded in key paths.
    """
    auth = host if auth_methods(host) else global_
    password = auth.password
    private_key_path = _expand(auth.private_key_path)
    private_key = auth.private_key
    user = host.user or global_.user
    port = host.port or global_.port
    sudo_password = host.sudo_password or global_.sudo_password or password

    bastion_entry = host.bastion if "bastion" in host.model_fields_set else global_.bastion
    bastion = None
    if bastion_entry is not None and host.connector == "ssh":
        bastion = _resolve_bastion(
            bastion_entry, global_, user, password, private_key_path, private_key
        )
        # A host never jumps through itself (the bastion is often one of the cluster's hosts).
        if (bastion.address, bastion.port) == (host.address, port):
            bastion = None

    return ResolvedHost(
        name=host.name,
        address=host.address,
        internal_address=host.internal_address or host.address,
        port=port,
        user=user,
        password=password,
        private_key_path=private_key_path,
        private_key=private_key,
        sudo_password=sudo_password,
        arch=host.arch,
        labels=MappingProxyType(dict(host.labels)),
        roles=roles,
        bastion=bastion,
        connector=host.connector,
    )


def _resolve_bastion(
    bastion: Bastion,
    global_: GlobalSettings,
    host_user: str,
    host_password: SecretStr | None,
    host_key_path: Path | None,
    host_key: SecretStr | None,
) -> ResolvedBastion:
    if auth_methods(bastion):
        password, key_path, key = (
            bastion.password,
            _expand(bastion.private_key_path),
            bastion.private_key,
        )
    else:
        password, key_path, key = host_password, host_key_path, host_key
    return ResolvedBastion(
        address=bastion.address,
        port=bastion.port or global_.port,
        user=bastion.user or host_user,
        password=password,
        private_key_path=key_path,
        private_key=key,
    )
