"""The hosts of a cluster file without the cluster's models: what ``kubexms exec`` needs.

Building the pydantic models of the whole cluster file costs a quarter of a second of
start-up, more than the fan-out of a command to twenty hosts. A command that only reaches
hosts reads the file here instead, when the file is made only of what this reader checks
itself: ``apiVersion``, ``kind``, ``metadata.name``, and in ``spec`` the hosts (name,
address, internalAddress, port, user, privateKeyPath, arch, connector), the role groups, and
the scalar settings of ``global`` (no secrets, no bastion). Anything else (a key it does not
know, a ``${VAR}`` reference, a value it is not sure of, a rule it would have to bend) and it
hands the file to `load_config`, so every error is the full validation's, with its field
paths and lines, and any file `load_config` refuses is refused. A test holds the two to the
same hosts and settings on the files both accept, and to the same errors on bad ones.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from kubexms.config._errors import ConfigError
from kubexms.config._host_ranges import expand_host_pattern
from kubexms.config._resolved import ResolvedHost
from kubexms.config._roles import ROLES
from kubexms.config._syntax import is_address, is_dns_label, is_ip_address, is_user_name
from kubexms.config._yaml_source import MAX_BYTES, read_yaml

if TYPE_CHECKING:
    from kubexms.config._cluster import Cluster

HostKeyPolicy = Literal["strict", "accept-new", "off"]

_API_VERSION = "kubexms.io/v1alpha1"  # kubexms.config._cluster.API_VERSION (a test pins it)
_TOP_KEYS = frozenset({"apiVersion", "kind", "metadata", "spec"})
_SPEC_KEYS = frozenset({"hosts", "roleGroups", "global"})
_HOST_KEYS = frozenset(
    {"name", "address", "internalAddress", "port", "user", "privateKeyPath", "arch", "connector"}
)
_SECONDS = {"connectionTimeout": "connection_timeout", "commandTimeout": "command_timeout"}
_NON_NEGATIVE_SECONDS = {"keepaliveInterval": "keepalive_interval", "stopGrace": "stop_grace"}
_COUNTS = {
    "connectConcurrency": "connect_concurrency",
    "concurrency": "concurrency",
    "keepaliveCountMax": "keepalive_count_max",
}
_PATHS = {"privateKeyPath": "private_key_path", "knownHostsPath": "known_hosts_path"}
_GLOBAL_KEYS = frozenset(
    {"user", "port", "hostKeyPolicy", "workDir", *_SECONDS, *_NON_NEGATIVE_SECONDS, *_COUNTS}
    | set(_PATHS)
)
_POLICIES = frozenset({"strict", "accept-new", "off"})
_ARCHES = frozenset({"amd64", "arm64"})
_CONNECTORS = frozenset({"ssh", "local"})


class _DeclinedError(Exception):
    """The file is not one this reader is sure of: the full validation decides."""


@dataclass(frozen=True)
class InventorySettings:
    """``spec.global``'s settings for reaching hosts; defaults as `GlobalSettings` (pinned)."""

    user: str = "root"
    port: int = 22
    private_key_path: Path | None = None
    connection_timeout: float = 30.0
    command_timeout: float = 600.0
    connect_concurrency: int = 64
    concurrency: int = 50
    host_key_policy: HostKeyPolicy = "strict"
    known_hosts_path: Path = Path("~/.ssh/known_hosts")
    keepalive_interval: float = 15.0
    keepalive_count_max: int = 2
    stop_grace: float = 5.0


@dataclass(frozen=True)
class InventorySpec:
    global_: InventorySettings = field(default_factory=InventorySettings)


@dataclass(frozen=True)
class ClusterInventory:
    """A cluster file's hosts, resolved as `Cluster.resolved_hosts` would, and its settings."""

    name: str
    spec: InventorySpec
    hosts: tuple[ResolvedHost, ...]

    def resolved_hosts(self) -> list[ResolvedHost]:
        return list(self.hosts)


def load_inventory(path: str | Path) -> ClusterInventory | Cluster:
    """The hosts of the cluster file at ``path``: read here when the file is plain enough,
    otherwise by `load_config` (which raises `ConfigError` for a bad file)."""
    inventory = None
    text = _read(Path(path))
    if text is not None:
        inventory = _read_plain(text, str(path))
    if inventory is not None:
        return inventory
    from kubexms.config._loader import load_config

    return load_config(path)


def parse_inventory(text: str, source: str = "<string>") -> ClusterInventory | Cluster:
    """`load_inventory` for cluster-file text (`parse_config` when it is not plain enough)."""
    inventory = _read_plain(text, source)
    if inventory is not None:
        return inventory
    from kubexms.config._loader import parse_config

    return parse_config(text, source)


def _read(path: Path) -> str | None:
    # load_config reads the same way; any trouble is its to report.
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
        if len(raw) > MAX_BYTES:
            return None
        return raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    except (OSError, UnicodeDecodeError):
        return None


def _read_plain(text: str, source: str) -> ClusterInventory | None:
    try:
        document = read_yaml(text, source)
        if document.issues:
            return None
        return _inventory(document.data)
    except (_DeclinedError, ConfigError):
        return None


def _mapping(value: object, allowed: frozenset[str]) -> dict[str, Any]:
    if not isinstance(value, dict) or not set(value) <= allowed:
        raise _DeclinedError
    return value


def _text(value: object, check: Any = None) -> str:
    # A `$` may be a ${VAR} reference, which only the full loader substitutes.
    if type(value) is not str or "$" in value or (check is not None and not check(value)):
        raise _DeclinedError
    return value


def _port(value: object) -> int:
    if type(value) is not int or not 1 <= value <= 65535:
        raise _DeclinedError
    return value


def _count(value: object) -> int:
    if type(value) is not int or value <= 0:
        raise _DeclinedError
    return value


def _seconds(value: object, *, zero: bool) -> float:
    if type(value) not in (int, float):
        raise _DeclinedError
    seconds = float(value)  # type: ignore[arg-type]
    if not math.isfinite(seconds) or seconds < 0 or (seconds == 0 and not zero):
        raise _DeclinedError
    return seconds


def _path(value: object) -> Path:
    path = Path(_text(value))
    if str(path) in ("", "."):
        raise _DeclinedError
    return path


def _settings(data: object) -> InventorySettings:
    given = _mapping(data, _GLOBAL_KEYS)
    values: dict[str, Any] = {}
    for key, value in given.items():
        if key == "user":
            values["user"] = _text(value, is_user_name)
        elif key == "port":
            values["port"] = _port(value)
        elif key == "hostKeyPolicy":
            values["host_key_policy"] = _text(value, _POLICIES.__contains__)
        elif key == "workDir":
            _path(value)  # checked, not needed to reach hosts
        elif key in _PATHS:
            values[_PATHS[key]] = _path(value)
        elif key in _SECONDS:
            values[_SECONDS[key]] = _seconds(value, zero=False)
        elif key in _NON_NEGATIVE_SECONDS:
            values[_NON_NEGATIVE_SECONDS[key]] = _seconds(value, zero=True)
        else:
            values[_COUNTS[key]] = _count(value)
    return InventorySettings(**values)


def _roles_of(data: object, names: list[str]) -> dict[str, frozenset[str]]:
    """Each host's roles; declined unless every rule of the role groups is plainly met."""
    groups = _mapping(data, frozenset(ROLES))
    known = set(names)
    members: dict[str, list[str]] = {}
    for role in ROLES:
        patterns = groups.get(role)
        if patterns is None:
            patterns = []
        if not isinstance(patterns, list):
            raise _DeclinedError
        listed: dict[str, None] = {}  # ordered, and a set
        for pattern in patterns:
            try:
                expanded = expand_host_pattern(_text(pattern))
            except ValueError:
                raise _DeclinedError from None
            if not known.issuperset(expanded) or not listed.keys().isdisjoint(expanded):
                raise _DeclinedError  # unknown or repeated hosts: the full check words it
            listed.update(dict.fromkeys(expanded))
        members[role] = list(listed)
    # With the defaults of everything this reader does not accept (etcd.type kubexm, no
    # controlPlaneEndpoint, loadBalancer none): one master, at least one etcd host.
    if len(members["master"]) != 1 or not members["etcd"]:
        raise _DeclinedError
    roles: dict[str, set[str]] = {}
    for group, hosts in members.items():
        for name in hosts:
            roles.setdefault(name, set()).add(group)
    if set(roles) != known:
        raise _DeclinedError  # a host in no role group
    return {name: frozenset(held) for name, held in roles.items()}


def _inventory(data: object) -> ClusterInventory:
    top = _mapping(data, _TOP_KEYS)
    if top.get("apiVersion") != _API_VERSION or top.get("kind") != "Cluster":
        raise _DeclinedError
    metadata = _mapping(top.get("metadata"), frozenset({"name"}))
    name = _text(metadata.get("name"), is_dns_label)
    spec = _mapping(top.get("spec"), _SPEC_KEYS)
    settings = _settings(spec["global"]) if "global" in spec else InventorySettings()
    entries = spec.get("hosts")
    if not isinstance(entries, list) or not entries or "roleGroups" not in spec:
        raise _DeclinedError
    hosts = [_mapping(entry, _HOST_KEYS) for entry in entries]
    names = [_text(host.get("name"), is_dns_label) for host in hosts]
    if len(set(names)) != len(names):
        raise _DeclinedError
    roles = _roles_of(spec["roleGroups"], names)
    resolved: list[ResolvedHost] = []
    endpoints: set[tuple[str, int]] = set()
    local = 0
    for host, host_name in zip(hosts, names, strict=True):
        address = _text(host.get("address"), is_address)
        internal = _text(host.get("internalAddress", address), is_address)
        port = _port(host["port"]) if "port" in host else settings.port
        user = _text(host["user"], is_user_name) if "user" in host else settings.user
        key = _path(host["privateKeyPath"]) if "privateKeyPath" in host else None
        arch = _text(host["arch"], _ARCHES.__contains__) if "arch" in host else None
        connector = _text(host.get("connector", "ssh"), _CONNECTORS.__contains__)
        local += connector == "local"
        endpoint = (_normalized(address), port)
        if endpoint in endpoints or local > 1:
            raise _DeclinedError
        endpoints.add(endpoint)
        # A host that sets a login method uses only its own, else global's (resolve_host).
        key_path = key if key is not None else settings.private_key_path
        resolved.append(
            ResolvedHost(
                name=host_name,
                address=address,
                internal_address=internal,
                port=port,
                user=user,
                password=None,
                private_key_path=None if key_path is None else key_path.expanduser(),
                private_key=None,
                sudo_password=None,
                arch=arch,  # type: ignore[arg-type]  # checked against _ARCHES
                labels=MappingProxyType({}),
                roles=roles[host_name],
                bastion=None,
                connector=connector,  # type: ignore[arg-type]  # checked against _CONNECTORS
            )
        )
    return ClusterInventory(name, InventorySpec(settings), tuple(resolved))


def _normalized(address: str) -> str:
    # As the duplicate-endpoint rule compares addresses (kubexms.config._checks).
    if is_ip_address(address):
        return str(ipaddress.ip_address(address))
    return address.lower().removesuffix(".")
