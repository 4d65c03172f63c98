"""A host with everything it inherits filled in: what a connector needs to reach it.

Plain records, no models: the fast inventory reader (kubexms.config._inventory) makes them
without importing pydantic's models; ``resolve_host`` (kubexms.config._hosts) makes them from
the validated ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from pathlib import Path

    from pydantic import SecretStr


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
