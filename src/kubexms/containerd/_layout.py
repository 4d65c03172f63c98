"""Where containerd and its companions live on a node, and the artifacts they come from."""

from __future__ import annotations

from kubexms.config import Role

BIN_DIR = "/usr/local/bin"
RUNC = "/usr/local/sbin/runc"
CNI_BIN_DIR = "/opt/cni/bin"
CNI_CONF_DIR = "/etc/cni/net.d"
CONFIG_DIR = "/etc/containerd"
CONFIG_FILE = f"{CONFIG_DIR}/config.toml"
CERTS_DIR = f"{CONFIG_DIR}/certs.d"
CRICTL_CONFIG = "/etc/crictl.yaml"
ROOT_DIR = "/var/lib/containerd"
STATE_DIR = "/run/containerd"
SOCKET = f"{STATE_DIR}/containerd.sock"
UNIT_NAME = "containerd.service"
CTR = f"{BIN_DIR}/ctr"
CRICTL_BIN = f"{BIN_DIR}/crictl"
IMAGE_NAMESPACE = "k8s.io"
"""The containerd namespace the kubelet's CRI uses: imported images go there."""

CONTAINERD = "containerd"
RUNC_ARTIFACT = "runc"
CNI_PLUGINS = "cni-plugins"
CRICTL = "crictl"
ARTIFACTS = (CONTAINERD, RUNC_ARTIFACT, CNI_PLUGINS, CRICTL)
"""The BOM components of the container-runtime phase."""

ROLES: tuple[Role, ...] = ("master", "worker")
"""Every node runs a container runtime."""


def schema_version(containerd_version: str) -> int:
    """The config.toml schema containerd ``containerd_version`` reads: 2 for 1.x, 3 for 2.x."""
    major = int(containerd_version.lstrip("v").split(".")[0])
    return 3 if major >= 2 else 2
