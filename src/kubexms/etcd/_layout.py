"""Where etcd lives on a host, and how its members are named and reached.

One source of truth shared by the install phase and by the operating commands (status, backup,
restore): binaries in /usr/local/bin, its configuration in one environment file under
/etc/etcd, certificates in kubeadm's layout under /etc/kubernetes/pki/etcd, members named
after their hosts and ordered as the cluster file lists the hosts of the ``etcd`` role.
"""

from __future__ import annotations

import ipaddress
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kubexms.config import Cluster

BIN_DIR = "/usr/local/bin"
ETCD_BINARY = f"{BIN_DIR}/etcd"
ETCDCTL_BINARY = f"{BIN_DIR}/etcdctl"
ETCDUTL_BINARY = f"{BIN_DIR}/etcdutl"
BINARIES = ("etcd", "etcdctl", "etcdutl")
"""What a release tarball holds; etcdutl only from 3.5 on."""
REQUIRED_BINARIES = ("etcd", "etcdctl")

CONFIG_DIR = "/etc/etcd"
CONFIG_FILE = f"{CONFIG_DIR}/etcd.env"
"""The member's whole configuration, as ETCD_* variables read by the unit (EnvironmentFile)."""
RELEASE_FILE = f"{CONFIG_DIR}/release"
"""The etcd version the binaries in BIN_DIR are (a change restarts the members one by one)."""
ETCDCTL_ENV = f"{CONFIG_DIR}/etcdctl.env"
"""ETCDCTL_* variables: the local endpoint and a client certificate."""
ETCDCTL_PROFILE = "/etc/profile.d/etcdctl.sh"
"""Exports ETCDCTL_ENV in login shells, so an operator's ``etcdctl member list`` just works."""

UNIT_NAME = "etcd.service"
UNIT_PATH = f"/etc/systemd/system/{UNIT_NAME}"

PKI_DIR = "/etc/kubernetes/pki/etcd"
CA_CERT = f"{PKI_DIR}/ca.crt"
SERVER_CERT = f"{PKI_DIR}/server.crt"
SERVER_KEY = f"{PKI_DIR}/server.key"
PEER_CERT = f"{PKI_DIR}/peer.crt"
PEER_KEY = f"{PKI_DIR}/peer.key"
HEALTHCHECK_CERT = f"{PKI_DIR}/healthcheck-client.crt"
HEALTHCHECK_KEY = f"{PKI_DIR}/healthcheck-client.key"

# What the API server uses to reach etcd (kubeadm's names), also for external etcd.
APISERVER_CLIENT_CERT = "/etc/kubernetes/pki/apiserver-etcd-client.crt"
APISERVER_CLIENT_KEY = "/etc/kubernetes/pki/apiserver-etcd-client.key"

CLIENT_PORT = 2379
PEER_PORT = 2380
METRICS_PORT = 2381
PORTS = (CLIENT_PORT, PEER_PORT, METRICS_PORT)

DATA_DIR_MODE = 0o700
KEY_MODE = 0o600
CERT_MODE = 0o644


def url_host(address: str) -> str:
    """``address`` as the host part of a URL (IPv6 in brackets)."""
    try:
        return f"[{address}]" if ipaddress.ip_address(address).version == 6 else address
    except ValueError:
        return address


@dataclass(frozen=True, slots=True)
class EtcdMember:
    """One member: named after its host, reached on the host's internal address."""

    name: str
    address: str

    @property
    def client_url(self) -> str:
        return f"https://{url_host(self.address)}:{CLIENT_PORT}"

    @property
    def peer_url(self) -> str:
        return f"https://{url_host(self.address)}:{PEER_PORT}"

    @property
    def listen_client_urls(self) -> str:
        return f"{self.client_url},https://127.0.0.1:{CLIENT_PORT}"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{METRICS_PORT}"


def members(cluster: Cluster) -> list[EtcdMember]:
    """The members of a kubexms-run etcd: the ``etcd`` role group in config order."""
    return [
        EtcdMember(host.name, host.internal_address) for host in cluster.hosts_with_role("etcd")
    ]


def member_of(cluster: Cluster, host: str) -> EtcdMember:
    """The member on ``host``; KeyError if the host is not in the etcd role group."""
    for member in members(cluster):
        if member.name == host:
            return member
    raise KeyError(f"host {host!r} is not in the etcd role group")


def initial_cluster(cluster: Cluster) -> str:
    """``name=peer-url,...``: etcd's ``initial-cluster`` for the role group."""
    return ",".join(f"{member.name}={member.peer_url}" for member in members(cluster))


def cluster_token(cluster: Cluster) -> str:
    """etcd's ``initial-cluster-token``: from the cluster's name, so two clusters whose members
    could see each other never merge."""
    return f"kubexms-{cluster.name}"


def client_endpoints(cluster: Cluster) -> list[str]:
    """Where clients (the API server, etcdctl) reach etcd: every member's client URL, or the
    external endpoints with ``etcd.type: external``."""
    etcd = cluster.spec.etcd
    if etcd.type == "external":
        return list(etcd.external.endpoints)
    return [member.client_url for member in members(cluster)]


def pki_files(host: str) -> dict[str, str]:
    """The files an etcd member needs, host path -> name in the cluster PKI directory (made by
    ``kubexms certs generate``; per-host certificates carry the host in their name there)."""
    return {
        CA_CERT: "etcd/ca.crt",
        SERVER_CERT: f"etcd/server-{host}.crt",
        SERVER_KEY: f"etcd/server-{host}.key",
        PEER_CERT: f"etcd/peer-{host}.crt",
        PEER_KEY: f"etcd/peer-{host}.key",
        HEALTHCHECK_CERT: "etcd/healthcheck-client.crt",
        HEALTHCHECK_KEY: "etcd/healthcheck-client.key",
    }


def is_key(path: str) -> bool:
    """Private keys are 0600, certificates 0644."""
    return path.endswith(".key")


def etcdctl_environment(endpoint: str = f"https://127.0.0.1:{CLIENT_PORT}") -> dict[str, str]:
    """The ETCDCTL_* variables of /etc/etcd/etcdctl.env: the local member, over TLS."""
    return {
        "ETCDCTL_API": "3",
        "ETCDCTL_ENDPOINTS": endpoint,
        "ETCDCTL_CACERT": CA_CERT,
        "ETCDCTL_CERT": HEALTHCHECK_CERT,
        "ETCDCTL_KEY": HEALTHCHECK_KEY,
    }


def render_environment(variables: Mapping[str, str]) -> str:
    """An environment file systemd and ``sh`` both read: one quoted ``KEY=value`` a line."""
    return "".join(f"{key}={shlex.quote(value)}\n" for key, value in variables.items())


def etcdctl_command(arguments: str, endpoints: Sequence[str] = ()) -> str:
    """A shell command running ``etcdctl <arguments>`` on an etcd host with its etcdctl.env
    (``arguments`` must already be shell-quoted); ``endpoints`` replace the local one (etcdctl
    refuses ``--endpoints`` beside ETCDCTL_ENDPOINTS)."""
    command = f"set -a && . {ETCDCTL_ENV} && set +a && "
    if endpoints:
        command += f"ETCDCTL_ENDPOINTS={shlex.quote(','.join(endpoints))} "
    return command + f"{ETCDCTL_BINARY} {arguments}"
