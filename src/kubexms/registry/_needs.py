"""What the registry needs of its host: its port, held by kubexms-registry.service."""

from __future__ import annotations

from kubexms.artifacts import registry_port
from kubexms.config import Cluster
from kubexms.engine import HostNeeds
from kubexms.registry._config import UNIT_NAME


def registry_host_needs(config: Cluster) -> list[HostNeeds]:
    """The port ``privateRegistry`` names, on the registry host, with ``type: registry``."""
    registry = config.spec.registry
    if registry.type != "registry":
        return []
    return [
        HostNeeds(
            "registry",
            roles=("registry",),
            ports=(registry_port(registry.private_registry),),
            service=UNIT_NAME,
            reason="registry.type is registry",
        )
    ]
