"""What the Runtime reads of a cluster to reach its hosts: an inventory, not the whole model.

A `kubexms.config.Cluster` is one. So is the record the fast inventory reader makes
(kubexms.config._inventory) for commands that only reach hosts (``kubexms exec``): they get
their hosts without building the cluster file's pydantic models.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from kubexms.config._resolved import ResolvedHost
    from kubexms.connector._ssh_settings import HostKeyPolicy


class ConnectionSettings(Protocol):
    """The fields of ``spec.global`` that say how to reach and talk to the hosts."""

    @property
    def connect_concurrency(self) -> int: ...
    @property
    def connection_timeout(self) -> float: ...
    @property
    def command_timeout(self) -> float: ...
    @property
    def host_key_policy(self) -> HostKeyPolicy: ...
    @property
    def known_hosts_path(self) -> Path: ...
    @property
    def keepalive_interval(self) -> float: ...
    @property
    def keepalive_count_max(self) -> int: ...
    @property
    def stop_grace(self) -> float: ...


class InventorySpec(Protocol):
    @property
    def global_(self) -> ConnectionSettings: ...


class HostInventory(Protocol):
    """The hosts (inherited values filled in) and the settings to reach them."""

    @property
    def spec(self) -> InventorySpec: ...

    def resolved_hosts(self) -> list[ResolvedHost]: ...
