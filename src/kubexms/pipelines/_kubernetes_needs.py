"""What the control plane and the kubelet need of hosts (declared by the kubernetes package)."""

from kubexms.kubernetes import control_plane_host_needs

__all__ = ["control_plane_host_needs"]
