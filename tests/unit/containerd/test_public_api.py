"""The public names of kubexms.containerd, pinned so a change to them is deliberate."""

from __future__ import annotations

import kubexms.containerd

EXPECTED = {
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
}


def test_all_is_exactly_the_public_api() -> None:
    assert set(kubexms.containerd.__all__) == EXPECTED
