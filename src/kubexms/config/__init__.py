"""The cluster file (``cluster.yaml``): typed models, loading with line-accurate errors, dumping.

``load_config(path)`` gives a validated `Cluster`; every problem in the file is reported at once
in a `ConfigError`, each `ConfigIssue` naming its field path (``spec.hosts[2].port``) and line.
"""

from kubexms.config._addons import Addon
from kubexms.config._artifacts import ArtifactOverride, Artifacts
from kubexms.config._cluster import API_VERSION, KIND, Cluster, Metadata, Spec
from kubexms.config._errors import ConfigError, ConfigIssue
from kubexms.config._etcd import Etcd, EtcdBackup, ExternalEtcd
from kubexms.config._host_ranges import expand_host_pattern
from kubexms.config._hosts import ROLES, Bastion, GlobalSettings, Host, Role, RoleGroups
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
