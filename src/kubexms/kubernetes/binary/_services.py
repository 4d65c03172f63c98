"""The systemd services of binary mode, one step each: the unit with the component's whole
command line, its configuration file where it reads one, and a release file naming the
Kubernetes version; and which of them read each PKI file (:func:`with_readers`), so a renewed
certificate or kubeconfig restarts the services that read it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from kubexms.config import Cluster, ResolvedHost
from kubexms.kubernetes._kubeadm_config import to_yaml
from kubexms.kubernetes._layout import CONTROL_PLANE_TAINT
from kubexms.kubernetes.binary._args import (
    apiserver_args,
    controller_manager_args,
    kube_proxy_args,
    kubelet_args,
    scheduler_args,
)
from kubexms.kubernetes.binary._configs import (
    binary_kube_proxy_configuration,
    binary_kubelet_configuration,
    scheduler_configuration,
)
from kubexms.kubernetes.binary._layout import (
    API_SERVER_PORT,
    CONTROLLER_MANAGER_PORT,
    KUBE_PROXY_CONFIG,
    KUBE_PROXY_HEALTH_PORT,
    KUBELET_CONFIG,
    KUBELET_PORT,
    SCHEDULER_CONFIG,
    SCHEDULER_PORT,
    unit,
)
from kubexms.kubernetes.binary._units import render_unit
from kubexms.steps import Health, PKIFile, ServiceFile, SystemdService

RELEASE_DIR = "/etc/kubernetes/kubexms"


def _release(cluster: Cluster, component: str) -> ServiceFile:
    # The binary is replaced under a running service: naming the release in one of its files
    # makes a new version restart it, like a changed setting (as etcd's release file does).
    path = f"{RELEASE_DIR}/{component}.release"
    return ServiceFile(path, f"{cluster.spec.kubernetes.version}\n")


def apiserver_service(cluster: Cluster, host: str) -> SystemdService:
    """kube-apiserver on the master ``host`` (it advertises the host's internal address)."""
    address = _address(cluster, host)
    return SystemdService(
        unit=unit("kube-apiserver"),
        unit_file=render_unit("kube-apiserver", apiserver_args(cluster, address)),
        files=(_release(cluster, "kube-apiserver"),),
        health=Health(port=API_SERVER_PORT, timeout=120),
    )


def controller_manager_service(cluster: Cluster) -> SystemdService:
    return SystemdService(
        unit=unit("kube-controller-manager"),
        unit_file=render_unit("kube-controller-manager", controller_manager_args(cluster)),
        files=(_release(cluster, "kube-controller-manager"),),
        health=Health(port=CONTROLLER_MANAGER_PORT, timeout=120),
    )


def scheduler_service(cluster: Cluster) -> SystemdService:
    return SystemdService(
        unit=unit("kube-scheduler"),
        unit_file=render_unit("kube-scheduler", scheduler_args(cluster)),
        files=(
            ServiceFile(SCHEDULER_CONFIG, to_yaml([scheduler_configuration(cluster)])),
            _release(cluster, "kube-scheduler"),
        ),
        health=Health(port=SCHEDULER_PORT, timeout=120),
    )


def kubelet_service(cluster: Cluster, host: str) -> SystemdService:
    """The kubelet on ``host``; a master that is not also a worker registers tainted."""
    roles = _roles(cluster, host)
    config = binary_kubelet_configuration(cluster)
    if "master" in roles and "worker" not in roles:
        config["registerWithTaints"] = [{"key": CONTROL_PLANE_TAINT, "effect": "NoSchedule"}]
    return SystemdService(
        unit=unit("kubelet"),
        unit_file=render_unit("kubelet", kubelet_args(cluster, host, _address(cluster, host))),
        files=(ServiceFile(KUBELET_CONFIG, to_yaml([config])), _release(cluster, "kubelet")),
        health=Health(port=KUBELET_PORT, timeout=120),
    )


def kube_proxy_service(cluster: Cluster, host: str) -> SystemdService:
    return SystemdService(
        unit=unit("kube-proxy"),
        unit_file=render_unit("kube-proxy", kube_proxy_args(cluster)),
        files=(
            ServiceFile(
                KUBE_PROXY_CONFIG, to_yaml([binary_kube_proxy_configuration(cluster, host)])
            ),
            _release(cluster, "kube-proxy"),
        ),
        health=Health(port=KUBE_PROXY_HEALTH_PORT, timeout=120),
    )


def _host(cluster: Cluster, name: str) -> ResolvedHost:
    for host in cluster.resolved_hosts():
        if host.name == name:
            return host
    raise KeyError(name)


def _address(cluster: Cluster, name: str) -> str:
    return str(_host(cluster, name).internal_address)


def _roles(cluster: Cluster, name: str) -> set[str]:
    return set(_host(cluster, name).roles)


def _names_path(service: SystemdService, path: str) -> bool:
    """Whether ``service``'s command line or one of its files names ``path``."""
    named = re.compile(re.escape(path) + r"(?![\w./-])")
    return any(named.search(item.content) for item in service.all_files())


def with_readers(
    files: Sequence[PKIFile], services: Sequence[SystemdService]
) -> tuple[PKIFile, ...]:
    """``files``, each naming the units of ``services`` that read it (their flags or config
    files name it): these read certificates and kubeconfigs only when they start, so a renewed
    one must restart them."""
    return tuple(
        replace(item, readers=tuple(s.unit for s in services if _names_path(s, item.dest)))
        for item in files
    )
