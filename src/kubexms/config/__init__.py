"""The cluster file (``cluster.yaml``): typed models, loading with line-accurate errors, dumping.

``load_config(path)`` gives a validated `Cluster`; every problem in the file is reported at once
in a `ConfigError`, each `ConfigIssue` naming its field path (``spec.hosts[2].port``) and line.

Importing the package loads nothing but a table of where each name lives: a name is imported
from its module on first use (PEP 562), so a command that reads only the inventory
(``kubexms exec``, through kubexms.config._inventory) never builds the pydantic models (a
quarter of a second of start-up).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kubexms.config._addons import Addon
    from kubexms.config._artifacts import ArtifactOverride, Artifacts
    from kubexms.config._cluster import API_VERSION, KIND, Cluster, Metadata, Spec
    from kubexms.config._errors import ConfigError, ConfigIssue
    from kubexms.config._etcd import Etcd, EtcdBackup, ExternalEtcd
    from kubexms.config._host_ranges import expand_host_pattern
    from kubexms.config._hosts import Bastion, GlobalSettings, Host, RoleGroups
    from kubexms.config._kubernetes import (
        ApiServer,
        Certificates,
        Component,
        ContainerRuntime,
        ControlPlaneEndpoint,
        KubeProxy,
        Kubernetes,
        LoadBalancer,
    )
    from kubexms.config._loader import cluster_json_schema, dump_config, load_config, parse_config
    from kubexms.config._network import Network
    from kubexms.config._registry import Registry, RegistryAuth
    from kubexms.config._resolved import ResolvedBastion, ResolvedHost
    from kubexms.config._roles import ROLES, Role
    from kubexms.config._scaffold import scaffold_config

__all__ = [
    "API_VERSION",
    "KIND",
    "ROLES",
    "Addon",
    "ApiServer",
    "ArtifactOverride",
    "Artifacts",
    "Bastion",
    "Certificates",
    "Cluster",
    "Component",
    "ConfigError",
    "ConfigIssue",
    "ContainerRuntime",
    "ControlPlaneEndpoint",
    "Etcd",
    "EtcdBackup",
    "ExternalEtcd",
    "GlobalSettings",
    "Host",
    "KubeProxy",
    "Kubernetes",
    "LoadBalancer",
    "Metadata",
    "Network",
    "Registry",
    "RegistryAuth",
    "ResolvedBastion",
    "ResolvedHost",
    "Role",
    "RoleGroups",
    "Spec",
    "cluster_json_schema",
    "dump_config",
    "expand_host_pattern",
    "load_config",
    "parse_config",
    "scaffold_config",
]

_HOMES: dict[str, str] = {
    "API_VERSION": "kubexms.config._cluster",
    "Addon": "kubexms.config._addons",
    "ApiServer": "kubexms.config._kubernetes",
    "ArtifactOverride": "kubexms.config._artifacts",
    "Artifacts": "kubexms.config._artifacts",
    "Bastion": "kubexms.config._hosts",
    "Certificates": "kubexms.config._kubernetes",
    "Cluster": "kubexms.config._cluster",
    "Component": "kubexms.config._kubernetes",
    "ConfigError": "kubexms.config._errors",
    "ConfigIssue": "kubexms.config._errors",
    "ContainerRuntime": "kubexms.config._kubernetes",
    "ControlPlaneEndpoint": "kubexms.config._kubernetes",
    "Etcd": "kubexms.config._etcd",
    "EtcdBackup": "kubexms.config._etcd",
    "ExternalEtcd": "kubexms.config._etcd",
    "GlobalSettings": "kubexms.config._hosts",
    "Host": "kubexms.config._hosts",
    "KIND": "kubexms.config._cluster",
    "KubeProxy": "kubexms.config._kubernetes",
    "Kubernetes": "kubexms.config._kubernetes",
    "LoadBalancer": "kubexms.config._kubernetes",
    "Metadata": "kubexms.config._cluster",
    "Network": "kubexms.config._network",
    "ROLES": "kubexms.config._roles",
    "Registry": "kubexms.config._registry",
    "RegistryAuth": "kubexms.config._registry",
    "ResolvedBastion": "kubexms.config._resolved",
    "ResolvedHost": "kubexms.config._resolved",
    "Role": "kubexms.config._roles",
    "RoleGroups": "kubexms.config._hosts",
    "Spec": "kubexms.config._cluster",
    "cluster_json_schema": "kubexms.config._loader",
    "dump_config": "kubexms.config._loader",
    "expand_host_pattern": "kubexms.config._host_ranges",
    "load_config": "kubexms.config._loader",
    "parse_config": "kubexms.config._loader",
    "scaffold_config": "kubexms.config._scaffold",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
