"""What the control plane and the kubelet need of hosts.

Declared here until those components exist; each then returns its part from its module's
``host_needs`` and the part moves into it.
"""

from __future__ import annotations

from kubexms.config import Cluster
from kubexms.engine import HostNeeds

API_SERVER_PORT = 6443
KUBELET_PORT = 10250
CONTROLLER_MANAGER_PORT = 10257
SCHEDULER_PORT = 10259


def control_plane_host_needs(config: Cluster) -> list[HostNeeds]:
    """The API server, controller-manager, scheduler and kubelet ports on the masters (with
    kubeadm's own minimum of 2 CPUs and 1700 MB), the kubelet's on the workers."""
    return [
        HostNeeds(
            "control-plane",
            roles=("master",),
            ports=(API_SERVER_PORT, KUBELET_PORT, CONTROLLER_MANAGER_PORT, SCHEDULER_PORT),
            cpus=2,
            memory_mib=1700,
        ),
        HostNeeds("kubelet", roles=("worker",), ports=(KUBELET_PORT,)),
    ]
