"""The machines of the cluster: hosts, their bastions, the global defaults, and role groups."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Literal, get_args

from pydantic import AfterValidator, BeforeValidator, Field

from kubexms.config._base import ConfigModel
from kubexms.config._host_ranges import expand_host_pattern
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


Role = Literal["master", "worker", "etcd", "loadbalancer", "registry"]
"""A host's role: the one vocabulary of the cluster file's role groups, the artifact BOM's
``roles`` and the Engine's host selectors (``Roles``, ``FirstOf``)."""

ROLES: tuple[Role, ...] = get_args(Role)
"""The role groups, in the order they are documented."""


def unknown_roles(names: Iterable[str]) -> list[str]:
    """The names in ``names`` that are no role, in order."""
    return [name for name in names if name not in ROLES]


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
