"""What planning knows about hosts: names and roles in config order, nothing live.

Planning needs no connection (``kubexms plan`` works offline), so tasks choose their hosts from
an Inventory built from the cluster file, never from the order hosts happened to connect in.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kubexms.config import ROLES, Cluster, Role
from kubexms.engine._errors import PlanError

CONTROL_HOST = "@control"
"""The pseudo-host that stands for the control machine (no cluster host can be named so)."""


@dataclass(frozen=True, slots=True)
class HostRef:
    """A host as planning sees it."""

    name: str
    roles: frozenset[str]


class Inventory:
    """The cluster's hosts in config order, with their roles."""

    def __init__(self, hosts: Iterable[HostRef]) -> None:
        self.hosts: tuple[HostRef, ...] = tuple(hosts)
        self._by_name = {host.name: host for host in self.hosts}
        if len(self._by_name) != len(self.hosts):
            raise PlanError("the inventory names a host twice")

    @classmethod
    def from_cluster(cls, cluster: Cluster) -> Inventory:
        """Hosts of the cluster file, in the order the file lists them."""
        return cls(HostRef(host.name, host.roles) for host in cluster.resolved_hosts())

    def names(self) -> list[str]:
        return [host.name for host in self.hosts]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __len__(self) -> int:
        return len(self.hosts)

    def with_role(self, role: Role) -> list[str]:
        """Names of the hosts having ``role``, in config order (PlanError: no such role)."""
        known = known_role(role)
        return [host.name for host in self.hosts if known in host.roles]


class HostSelector(abc.ABC):
    """Chooses the hosts a task runs on, always in config order."""

    @abc.abstractmethod
    def select(self, inventory: Inventory) -> list[str]:
        """The chosen host names; PlanError if the selection is impossible."""

    @abc.abstractmethod
    def describe(self) -> str:
        """A few words for plans: "all hosts", "role master"."""


class AllHosts(HostSelector):
    """Every host of the cluster."""

    def select(self, inventory: Inventory) -> list[str]:
        return inventory.names()

    def describe(self) -> str:
        return "all hosts"


def known_role(role: str) -> Role:
    """``role`` itself if it is one of the cluster file's roles; PlanError otherwise (a typo
    in a selector would otherwise select no host and plan nothing, silently)."""
    for known in ROLES:
        if role == known:
            return known
    raise PlanError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")


class Roles(HostSelector):
    """Hosts having any of ``roles``. A role no host has selects nothing (the task then
    plans no nodes); a name that is no role is a PlanError."""

    def __init__(self, *roles: Role) -> None:
        if not roles:
            raise ValueError("Roles() needs at least one role")
        self.roles = tuple(known_role(role) for role in roles)

    def select(self, inventory: Inventory) -> list[str]:
        wanted = set(self.roles)
        return [host.name for host in inventory.hosts if host.roles & wanted]

    def describe(self) -> str:
        return f"role {' or '.join(self.roles)}"


class FirstOf(HostSelector):
    """The first host (in config order) having ``role``; PlanError if none has it, or if
    ``role`` is no role."""

    def __init__(self, role: Role) -> None:
        self.role = known_role(role)

    def select(self, inventory: Inventory) -> list[str]:
        found = inventory.with_role(self.role)
        if not found:
            raise PlanError(f"no host has the role {self.role!r}, so there is no first one")
        return found[:1]

    def describe(self) -> str:
        return f"first {self.role}"


class Named(HostSelector):
    """Hosts by name, kept in config order; an unknown name is a PlanError."""

    def __init__(self, names: Sequence[str]) -> None:
        if isinstance(names, str):
            raise TypeError("pass a list of host names, not one string")
        self.names = list(names)

    def select(self, inventory: Inventory) -> list[str]:
        unknown = [name for name in self.names if name not in inventory]
        if unknown:
            raise PlanError(f"no host named {', '.join(map(repr, unknown))} in this cluster")
        wanted = set(self.names)
        return [name for name in inventory.names() if name in wanted]

    def describe(self) -> str:
        return f"hosts {', '.join(self.names)}"


class ControlMachine(HostSelector):
    """The control machine itself (downloads, certificates made locally)."""

    def select(self, inventory: Inventory) -> list[str]:
        return [CONTROL_HOST]

    def describe(self) -> str:
        return "the control machine"
