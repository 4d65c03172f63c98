"""A host with everything it inherits filled in: what a connector needs to reach it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from pydantic import SecretStr

from kubexms.config._hosts import Bastion, GlobalSettings, Host, auth_methods


@dataclass(frozen=True)
class ResolvedBastion:
    """The jump host for one host, credentials already defaulted to the host's own."""

    address: str
    port: int
    user: str
    password: SecretStr | None
    private_key_path: Path | None
    private_key: SecretStr | None


@dataclass(frozen=True)
class ResolvedHost:
    """One host with every field filled from the host entry, `global` and the role groups."""

    name: str
    address: str
    internal_address: str
    port: int
    user: str
    password: SecretStr | None
    private_key_path: Path | None
    private_key: SecretStr | None
    sudo_password: SecretStr | None
    arch: Literal["amd64", "arm64"] | None
    labels: Mapping[str, str] = field(hash=False)
    roles: frozenset[str]
    bastion: ResolvedBastion | None
    connector: Literal["ssh", "local"]

    def has_role(self, role: str) -> bool:
        """Whether the host is in the given role group."""
        return role in self.roles


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
