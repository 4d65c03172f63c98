"""What an etcd member is told: its one configuration file, its unit, and the version policy."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

import jinja2

from kubexms._errors import KubexmsError
from kubexms.config import Cluster
from kubexms.etcd._layout import (
    CA_CERT,
    CONFIG_FILE,
    ETCD_BINARY,
    PEER_CERT,
    PEER_KEY,
    SERVER_CERT,
    SERVER_KEY,
    EtcdMember,
    cluster_token,
    initial_cluster,
    member_of,
    render_environment,
)

# Which etcd minor each Kubernetes minor is tested with (kubeadm's constants).
SUPPORTED_ETCD: dict[str, str] = {"1.31": "3.5", "1.32": "3.5", "1.33": "3.5", "1.34": "3.5"}
_NUMBERS = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?")


class EtcdVersionError(ValueError, KubexmsError):
    """The etcd version is newer than (or unknown to) what the Kubernetes version supports."""


@dataclass(frozen=True, slots=True)
class VersionVerdict:
    """Whether an etcd version fits the Kubernetes version: ``warning`` set when it is older
    than supported (allowed, but said)."""

    etcd: str
    kubernetes: str
    supported: str
    warning: str = ""


def _minor(version: str) -> tuple[int, int]:
    found = _NUMBERS.match(version)
    if found is None:
        raise EtcdVersionError(f"'{version}' is not a version")
    return int(found.group(1)), int(found.group(2))


def check_version(etcd: str, kubernetes: str) -> VersionVerdict:
    """The verdict on ``etcd`` for ``kubernetes``; EtcdVersionError if it is newer than the
    supported minor or Kubernetes is a version kubexms does not know."""
    major, minor = _minor(kubernetes)
    key = f"{major}.{minor}"
    if key not in SUPPORTED_ETCD:
        known = ", ".join(SUPPORTED_ETCD)
        raise EtcdVersionError(f"Kubernetes {kubernetes} is not one kubexms supports ({known})")
    supported = SUPPORTED_ETCD[key]
    window = [k for k, v in SUPPORTED_ETCD.items() if v == supported]
    described = f"etcd {supported}.x for Kubernetes {window[0]}-{window[-1]}"
    found = _minor(etcd)
    wanted = _minor(supported)
    if found > wanted:
        raise EtcdVersionError(f"etcd {etcd} is newer than {described} supports")
    if found < wanted:
        return VersionVerdict(
            etcd,
            kubernetes,
            supported,
            f"etcd {etcd} is older than supported ({described}); it is used as asked",
        )
    return VersionVerdict(etcd, kubernetes, supported)


def member_environment(cluster: Cluster, member: EtcdMember) -> dict[str, str]:
    """The member's ETCD_* variables, in a stable order (the file's bytes decide restarts)."""
    etcd = cluster.spec.etcd
    variables = {
        "ETCD_NAME": member.name,
        "ETCD_DATA_DIR": str(etcd.data_dir),
        "ETCD_LISTEN_CLIENT_URLS": member.listen_client_urls,
        "ETCD_ADVERTISE_CLIENT_URLS": member.client_url,
        "ETCD_LISTEN_PEER_URLS": member.peer_url,
        "ETCD_INITIAL_ADVERTISE_PEER_URLS": member.peer_url,
        "ETCD_LISTEN_METRICS_URLS": member.metrics_url,
        "ETCD_INITIAL_CLUSTER": initial_cluster(cluster),
        "ETCD_INITIAL_CLUSTER_TOKEN": cluster_token(cluster),
        # Ignored once the data dir holds a member: "new" is right for every run.
        "ETCD_INITIAL_CLUSTER_STATE": "new",
        "ETCD_CERT_FILE": SERVER_CERT,
        "ETCD_KEY_FILE": SERVER_KEY,
        "ETCD_TRUSTED_CA_FILE": CA_CERT,
        "ETCD_CLIENT_CERT_AUTH": "true",
        "ETCD_PEER_CERT_FILE": PEER_CERT,
        "ETCD_PEER_KEY_FILE": PEER_KEY,
        "ETCD_PEER_TRUSTED_CA_FILE": CA_CERT,
        "ETCD_PEER_CLIENT_CERT_AUTH": "true",
        "ETCD_HEARTBEAT_INTERVAL": str(etcd.heartbeat_interval),
        "ETCD_ELECTION_TIMEOUT": str(etcd.election_timeout),
        "ETCD_QUOTA_BACKEND_BYTES": str(etcd.quota_backend_bytes),
        "ETCD_AUTO_COMPACTION_RETENTION": etcd.auto_compaction_retention,
        "ETCD_SNAPSHOT_COUNT": str(etcd.snapshot_count),
    }
    for flag, value in sorted(etcd.extra_args.items()):
        variables["ETCD_" + flag.upper().replace("-", "_")] = value
    return variables


def render_member_config(cluster: Cluster, host: str) -> str:
    """The text of /etc/etcd/etcd.env on ``host``."""
    header = "# Written by kubexms from the cluster file; changes here are overwritten.\n"
    return header + render_environment(member_environment(cluster, member_of(cluster, host)))


def render_unit() -> str:
    """etcd.service: the binary with its environment file; restarted by systemd on failure."""
    text = resources.files("kubexms.etcd").joinpath("templates/etcd.service").read_text()
    template = jinja2.Template(text, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    rendered: str = template.render(binary=ETCD_BINARY, config=CONFIG_FILE)
    return rendered
