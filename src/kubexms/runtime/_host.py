"""Host: the handle through which everything talks to one machine."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from kubexms.runner import Runner


@dataclass(eq=False, slots=True)
class Host:
    """One target machine, with its own Runner (created by the runtime).

    Hosts compare by identity: two Host objects are the same host only if they are one object.
    """

    name: str
    address: str
    internal_address: str
    port: int
    user: str
    roles: frozenset[str]
    runner: Runner
    labels: Mapping[str, str] = field(default_factory=dict)
    arch: str | None = None

    def has_role(self, role: str) -> bool:
        return role in self.roles

    def __repr__(self) -> str:
        return f"Host({self.name!r}, {self.address}:{self.port}, roles={sorted(self.roles)})"
