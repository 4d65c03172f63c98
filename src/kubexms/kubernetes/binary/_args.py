"""Each binary-mode component's command line: kubexms's flags, the user's ``extraArgs`` over them.

Settings a component reads from a configuration file (the kubelet, kube-proxy, the scheduler)
are in that file; their command line only names the file, the kubeconfig and what has no
field there. kube-apiserver and kube-controller-manager read no file: every setting is a flag,
with kubeadm's defaults (so a cluster behaves like a kubeadm one), and a few more that binary
mode can give because the PKI is kubexms's (the kubelets' serving certificates are checked
against the cluster CA).

The user's ``extraArgs`` replace a default of the same name, except for the flags that name
files kubexms places or the addresses it derives (``PINNED``): changing one of those would
point the component at something that is not there, so it is a config error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from kubexms.config import ConfigIssue
from kubexms.etcd import _layout as etcd_layout
from kubexms.kubernetes._layout import PKI_DIR, minor
from kubexms.kubernetes.binary._flags import check_flags, flag_problems
from kubexms.kubernetes.binary._layout import (
    API_SERVER_PORT,
    CA_CERT,
    CA_KEY,
    CONTROLLER_MANAGER_CONF,
    ENCRYPTION_CONFIG,
    FRONT_PROXY_CA_CERT,
    KUBE_PROXY_CONFIG,
    KUBELET_CONF,
    KUBELET_CONFIG,
    SA_KEY,
    SA_PUB,
    SCHEDULER_CONF,
    SCHEDULER_CONFIG,
)

if TYPE_CHECKING:
    from kubexms.config import Cluster
    from kubexms.config._kubernetes import Component

_WHY_FILE = "it names a file kubexms places"
PINNED: Mapping[str, Mapping[str, str]] = {
    "kube-apiserver": {
        **{
            flag: _WHY_FILE
            for flag in (
                "client-ca-file",
                "tls-cert-file",
                "tls-private-key-file",
                "etcd-cafile",
                "etcd-certfile",
                "etcd-keyfile",
                "kubelet-client-certificate",
                "kubelet-client-key",
                "kubelet-certificate-authority",
                "proxy-client-cert-file",
                "proxy-client-key-file",
                "requestheader-client-ca-file",
                "service-account-key-file",
                "service-account-signing-key-file",
                "encryption-provider-config",
            )
        },
        "etcd-servers": "from the etcd section of the cluster file",
        "service-cluster-ip-range": "spec.network.kubeServiceCIDR",
        "secure-port": "the API server port every kubeconfig and the load balancer use",
        "advertise-address": "each master's internal address",
    },
    "kube-controller-manager": {
        **{
            flag: _WHY_FILE
            for flag in (
                "kubeconfig",
                "authentication-kubeconfig",
                "authorization-kubeconfig",
                "client-ca-file",
                "requestheader-client-ca-file",
                "root-ca-file",
                "service-account-private-key-file",
                "cluster-signing-cert-file",
                "cluster-signing-key-file",
            )
        },
        "cluster-cidr": "spec.network.kubePodsCIDR",
        "service-cluster-ip-range": "spec.network.kubeServiceCIDR",
        "cluster-name": "spec.kubernetes.clusterName",
    },
    "kube-scheduler": {
        "config": _WHY_FILE,
        "kubeconfig": "set in the KubeSchedulerConfiguration kubexms renders",
        "authentication-kubeconfig": _WHY_FILE,
        "authorization-kubeconfig": _WHY_FILE,
    },
    "kubelet": {
        "config": _WHY_FILE,
        "kubeconfig": _WHY_FILE,
        "hostname-override": "the host's name in the cluster file",
        "node-ip": "the host's internal address",
    },
    "kube-proxy": {
        "config": _WHY_FILE,
        "kubeconfig": "set in the KubeProxyConfiguration kubexms renders",
        "hostname-override": "set in the KubeProxyConfiguration kubexms renders",
    },
}
"""Flags the user's ``extraArgs`` may not set, and why."""


def _component(cluster: Cluster, name: str) -> Component:
    kubernetes = cluster.spec.kubernetes
    return {
        "kube-apiserver": kubernetes.api_server,
        "kube-controller-manager": kubernetes.controller_manager,
        "kube-scheduler": kubernetes.scheduler,
        "kubelet": kubernetes.kubelet,
        "kube-proxy": kubernetes.kube_proxy,
    }[name]


def extra_args_problems(cluster: Cluster) -> list[ConfigIssue]:
    """Every ``extraArgs`` key of the five components that is not a flag of that component
    at ``spec.kubernetes.version``, or that kubexms pins (empty: all fine)."""
    version = minor(cluster.spec.kubernetes.version)
    issues: list[ConfigIssue] = []
    for name, pinned in PINNED.items():
        issues += flag_problems(name, version, _component(cluster, name).extra_args, pinned)
    return issues


def check_extra_args(cluster: Cluster) -> None:
    """Raise a ConfigError naming every bad ``extraArgs`` key with its field path."""
    check_flags(extra_args_problems(cluster))


def _merged(cluster: Cluster, name: str, defaults: Mapping[str, str]) -> dict[str, str]:
    user = _component(cluster, name).extra_args
    return dict(sorted({**defaults, **user}.items()))


def _etcd_flags(cluster: Cluster) -> dict[str, str]:
    etcd = cluster.spec.etcd
    if etcd.type == "external":
        servers = ",".join(str(endpoint) for endpoint in etcd.external.endpoints)
    else:
        servers = ",".join(etcd_layout.client_endpoints(cluster))
    return {
        "etcd-servers": servers,
        "etcd-cafile": etcd_layout.CA_CERT,
        "etcd-certfile": etcd_layout.APISERVER_CLIENT_CERT,
        "etcd-keyfile": etcd_layout.APISERVER_CLIENT_KEY,
    }


def apiserver_args(cluster: Cluster, address: str) -> dict[str, str]:
    """kube-apiserver's flags on the master whose internal address is ``address``."""
    domain = cluster.spec.kubernetes.dns_domain
    defaults = {
        "advertise-address": address,
        "allow-privileged": "true",
        "authorization-mode": "Node,RBAC",
        "client-ca-file": CA_CERT,
        "enable-admission-plugins": "NodeRestriction",
        "enable-bootstrap-token-auth": "true",
        "encryption-provider-config": ENCRYPTION_CONFIG,
        **_etcd_flags(cluster),
        "kubelet-certificate-authority": CA_CERT,
        "kubelet-client-certificate": f"{PKI_DIR}/apiserver-kubelet-client.crt",
        "kubelet-client-key": f"{PKI_DIR}/apiserver-kubelet-client.key",
        "kubelet-preferred-address-types": "InternalIP,ExternalIP,Hostname",
        "proxy-client-cert-file": f"{PKI_DIR}/front-proxy-client.crt",
        "proxy-client-key-file": f"{PKI_DIR}/front-proxy-client.key",
        "requestheader-allowed-names": "front-proxy-client",
        "requestheader-client-ca-file": FRONT_PROXY_CA_CERT,
        "requestheader-extra-headers-prefix": "X-Remote-Extra-",
        "requestheader-group-headers": "X-Remote-Group",
        "requestheader-username-headers": "X-Remote-User",
        "secure-port": str(API_SERVER_PORT),
        "service-account-issuer": f"https://kubernetes.default.svc.{domain}",
        "service-account-key-file": SA_PUB,
        "service-account-signing-key-file": SA_KEY,
        "service-cluster-ip-range": cluster.spec.network.kube_service_cidr,
        "tls-cert-file": f"{PKI_DIR}/apiserver.crt",
        "tls-private-key-file": f"{PKI_DIR}/apiserver.key",
    }
    return _merged(cluster, "kube-apiserver", defaults)


def controller_manager_args(cluster: Cluster) -> dict[str, str]:
    """kube-controller-manager's flags (the same on every master)."""
    defaults = {
        "allocate-node-cidrs": "true",
        "authentication-kubeconfig": CONTROLLER_MANAGER_CONF,
        "authorization-kubeconfig": CONTROLLER_MANAGER_CONF,
        "bind-address": "127.0.0.1",
        "client-ca-file": CA_CERT,
        "cluster-cidr": cluster.spec.network.kube_pods_cidr,
        "cluster-name": cluster.spec.kubernetes.cluster_name,
        "cluster-signing-cert-file": CA_CERT,
        "cluster-signing-key-file": CA_KEY,
        "controllers": "*,bootstrapsigner,tokencleaner",
        "kubeconfig": CONTROLLER_MANAGER_CONF,
        "leader-elect": "true",
        "requestheader-client-ca-file": FRONT_PROXY_CA_CERT,
        "root-ca-file": CA_CERT,
        "service-account-private-key-file": SA_KEY,
        "service-cluster-ip-range": cluster.spec.network.kube_service_cidr,
        "use-service-account-credentials": "true",
    }
    return _merged(cluster, "kube-controller-manager", defaults)


def scheduler_args(cluster: Cluster) -> dict[str, str]:
    """kube-scheduler's flags: its configuration file, and the delegated authn/authz
    kubeconfigs (they have no field in KubeSchedulerConfiguration)."""
    defaults = {
        "authentication-kubeconfig": SCHEDULER_CONF,
        "authorization-kubeconfig": SCHEDULER_CONF,
        "bind-address": "127.0.0.1",
        "config": SCHEDULER_CONFIG,
    }
    return _merged(cluster, "kube-scheduler", defaults)


def kubelet_args(cluster: Cluster, host: str, address: str) -> dict[str, str]:
    """The kubelet's flags on ``host`` (its name and address have no config-file field)."""
    defaults = {
        "config": KUBELET_CONFIG,
        "hostname-override": host,
        "kubeconfig": KUBELET_CONF,
        "node-ip": address,
    }
    return _merged(cluster, "kubelet", defaults)


def kube_proxy_args(cluster: Cluster) -> dict[str, str]:
    """kube-proxy's flags: its configuration file only."""
    return _merged(cluster, "kube-proxy", {"config": KUBE_PROXY_CONFIG})


def command_line(binary: str, args: Mapping[str, str]) -> list[str]:
    """``binary --name=value ...`` as argv (sorted by name: a stable unit file)."""
    return [binary, *(f"--{name}={value}" for name, value in args.items())]
