"""Where binary mode puts things on a host (kubeadm's paths wherever kubeadm has one, so
tools and habits that know a kubeadm cluster find the same files here)."""

from __future__ import annotations

from kubexms.kubernetes._layout import CONFIG_DIR, KUBELET_DIR, PKI_DIR

BIN_DIR = "/usr/local/bin"
UNIT_DIR = "/etc/systemd/system"

CA_CERT = f"{PKI_DIR}/ca.crt"
CA_KEY = f"{PKI_DIR}/ca.key"
FRONT_PROXY_CA_CERT = f"{PKI_DIR}/front-proxy-ca.crt"
SA_KEY = f"{PKI_DIR}/sa.key"
SA_PUB = f"{PKI_DIR}/sa.pub"

ADMIN_CONF = f"{CONFIG_DIR}/admin.conf"
# system:masters: only for the first apply, which creates the binding admin.conf relies on.
SUPER_ADMIN_CONF = f"{CONFIG_DIR}/super-admin.conf"
CONTROLLER_MANAGER_CONF = f"{CONFIG_DIR}/controller-manager.conf"
SCHEDULER_CONF = f"{CONFIG_DIR}/scheduler.conf"
KUBELET_CONF = f"{CONFIG_DIR}/kubelet.conf"
KUBE_PROXY_CONF = f"{CONFIG_DIR}/kube-proxy.conf"

ENCRYPTION_CONFIG = f"{CONFIG_DIR}/encryption-config.yaml"
SCHEDULER_CONFIG = f"{CONFIG_DIR}/kube-scheduler-config.yaml"
KUBELET_CONFIG = f"{KUBELET_DIR}/config.yaml"
KUBELET_PKI_DIR = f"{KUBELET_DIR}/pki"
KUBELET_SERVING_CERT = f"{KUBELET_PKI_DIR}/kubelet.crt"
KUBELET_SERVING_KEY = f"{KUBELET_PKI_DIR}/kubelet.key"
KUBE_PROXY_DIR = "/var/lib/kube-proxy"
KUBE_PROXY_CONFIG = f"{KUBE_PROXY_DIR}/config.yaml"

CONTROL_PLANE = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
NODE = ("kubelet", "kube-proxy")

API_SERVER_PORT = 6443
KUBELET_PORT = 10250
CONTROLLER_MANAGER_PORT = 10257
SCHEDULER_PORT = 10259
KUBE_PROXY_HEALTH_PORT = 10256


def binary(component: str) -> str:
    """Where ``component``'s binary is placed."""
    return f"{BIN_DIR}/{component}"


def unit(component: str) -> str:
    """``component``'s systemd unit name."""
    return f"{component}.service"
