"""The public names of kubexms.config, pinned so changes to them are deliberate."""

from __future__ import annotations

import kubexms.config


def test_public_api() -> None:
    assert kubexms.config.__all__ == [
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
    for name in kubexms.config.__all__:
        assert getattr(kubexms.config, name) is not None
