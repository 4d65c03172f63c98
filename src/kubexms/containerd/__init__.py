"""containerd run by kubexms: the container runtime of every node (phase ``container-runtime``).

``_layout`` says where everything lives; ``_config`` renders the unit, config.toml (schema v2
for containerd 1.x, v3 for 2.x), the registries' ``hosts.toml`` and crictl.yaml; ``_module``
declares the phase on the building blocks; ``_steps`` holds what they do not cover (refusing a
foreign containerd, importing images into the k8s.io namespace).
"""

from kubexms.containerd._config import RegistryHosts, registry_hosts, render_config
from kubexms.containerd._layout import (
    CERTS_DIR,
    CONFIG_FILE,
    CTR,
    IMAGE_NAMESPACE,
    SOCKET,
    UNIT_NAME,
    schema_version,
)
from kubexms.containerd._module import ContainerRuntimeModule, containerd_service
from kubexms.containerd._steps import (
    ForeignContainerdError,
    ImageImportError,
    ImportImages,
    ManagedFile,
    NoForeignContainerd,
)

__all__ = [
    "CERTS_DIR",
    "CONFIG_FILE",
    "CTR",
    "IMAGE_NAMESPACE",
    "SOCKET",
    "UNIT_NAME",
    "ContainerRuntimeModule",
    "ForeignContainerdError",
    "ImageImportError",
    "ImportImages",
    "ManagedFile",
    "NoForeignContainerd",
    "RegistryHosts",
    "containerd_service",
    "registry_hosts",
    "render_config",
    "schema_version",
]
