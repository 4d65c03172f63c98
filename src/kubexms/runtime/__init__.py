"""The Runtime: the inventory of hosts, each with its Runner, and per-step Contexts.

It realises the seed's pkg/runtime: it connects and equips hosts, holds the run's read-only
state, and makes Contexts. It has no execution logic.
"""

from kubexms.runtime._connectors import ConnectorBuilder
from kubexms.runtime._context import Context, DataKey, DataStore, MissingDataError
from kubexms.runtime._errors import InitializationError
from kubexms.runtime._host import Host
from kubexms.runtime._inventory import ConnectionSettings, HostInventory, InventorySpec
from kubexms.runtime._runtime import (
    ClusterRuntime,
    ConnectorFactory,
    HostsRuntime,
    new_runtime,
    reach_hosts,
)

__all__ = [
    "ClusterRuntime",
    "ConnectionSettings",
    "ConnectorBuilder",
    "ConnectorFactory",
    "Context",
    "DataKey",
    "DataStore",
    "Host",
    "HostInventory",
    "HostsRuntime",
    "InitializationError",
    "InventorySpec",
    "MissingDataError",
    "new_runtime",
    "reach_hosts",
]
