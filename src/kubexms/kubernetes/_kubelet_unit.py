"""The kubelet's systemd unit and kubeadm's drop-in for it (kubeadm mode).

The same shape the Kubernetes packages install (kubernetes/release: ``kubelet.service`` and
``10-kubeadm.conf``): the unit restarts the kubelet forever, every 10 s, because until
``kubeadm init`` or ``join`` has written ``/var/lib/kubelet/config.yaml`` and a kubeconfig the
kubelet exits at once; the drop-in points it at those files and at the flags kubeadm writes to
``/var/lib/kubelet/kubeadm-flags.env``. The unit is therefore enabled but not started by
kubexms: kubeadm starts it (its ``kubelet-start`` phase).
"""

from __future__ import annotations

from kubexms.kubernetes._layout import CONFIG_DIR, KUBELET_DIR

KUBELET_BINARY = "/usr/local/bin/kubelet"
UNIT_NAME = "kubelet.service"
DROP_IN_NAME = "10-kubeadm.conf"
KUBELET_CONFIG = f"{KUBELET_DIR}/config.yaml"
KUBEADM_FLAGS = f"{KUBELET_DIR}/kubeadm-flags.env"
USER_FLAGS = "/etc/default/kubelet"


def kubelet_unit(binary: str = KUBELET_BINARY) -> str:
    """``/etc/systemd/system/kubelet.service``."""
    return f"""[Unit]
Description=kubelet: The Kubernetes Node Agent
Documentation=https://kubernetes.io/docs/
Wants=network-online.target
After=network-online.target containerd.service

[Service]
ExecStart={binary}
Restart=always
StartLimitInterval=0
RestartSec=10

[Install]
WantedBy=multi-user.target
"""


def kubeadm_drop_in(binary: str = KUBELET_BINARY) -> str:
    """``/etc/systemd/system/kubelet.service.d/10-kubeadm.conf``: the kubelet as kubeadm runs
    it (bootstrap and final kubeconfig, the config file, kubeadm's and the user's flags)."""
    return f"""# kubexms: the kubelet as kubeadm runs it (kubeadm init/join write the files named here)
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig={CONFIG_DIR}/bootstrap-kubelet.conf --kubeconfig={CONFIG_DIR}/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config={KUBELET_CONFIG}"
EnvironmentFile=-{KUBEADM_FLAGS}
EnvironmentFile=-{USER_FLAGS}
ExecStart=
ExecStart={binary} $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
"""  # noqa: E501  (systemd lines cannot be wrapped)
