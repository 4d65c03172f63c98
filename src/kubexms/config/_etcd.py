"""The etcd cluster behind the API server: where it runs, its tuning, its backups."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from kubexms.config._base import ConfigModel
from kubexms.config._errors import Loc, Problem
from kubexms.config._types import (
    AbsolutePath,
    ArgValue,
    Count,
    FilePath,
    Url,
    Version,
    invalid,
)

DEFAULT_ETCD_VERSION = "v3.5.16"
GIB = 1024**3
MAX_QUOTA_BACKEND_BYTES = 8 * GIB
"""etcd's documented ceiling for the backend quota."""
MAX_ELECTION_TIMEOUT_MS = 50_000
"""etcd refuses an election timeout above 50 s."""

# Settings kubexms derives from the cluster itself (names, URLs, certificates): extraArgs may
# not override them, or the cluster file and the hosts would disagree about the cluster.
MANAGED_ARGS: dict[str, str] = {
    "name": "the host's name",
    "data-dir": "spec.etcd.dataDir",
    "listen-client-urls": "the host's internal address and 127.0.0.1",
    "advertise-client-urls": "the host's internal address",
    "listen-peer-urls": "the host's internal address",
    "initial-advertise-peer-urls": "the host's internal address",
    "listen-metrics-urls": "127.0.0.1",
    "initial-cluster": "the etcd role group",
    "initial-cluster-token": "metadata.name",
    "initial-cluster-state": "kubexms",
    "cert-file": "the cluster PKI",
    "key-file": "the cluster PKI",
    "trusted-ca-file": "the cluster PKI",
    "client-cert-auth": "kubexms (always on)",
    "peer-cert-file": "the cluster PKI",
    "peer-key-file": "the cluster PKI",
    "peer-trusted-ca-file": "the cluster PKI",
    "peer-client-cert-auth": "kubexms (always on)",
    "config-file": "kubexms (the environment file)",
    "heartbeat-interval": "spec.etcd.heartbeatInterval",
    "election-timeout": "spec.etcd.electionTimeout",
    "quota-backend-bytes": "spec.etcd.quotaBackendBytes",
    "auto-compaction-retention": "spec.etcd.autoCompactionRetention",
    "snapshot-count": "spec.etcd.snapshotCount",
}

_ARG_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")
# etcd reads a bare number as hours (periodic mode) and also takes Go durations ("1h30m").
_RETENTION = re.compile(r"\d+|(\d+(\.\d+)?(h|m|s))+")


def _check_retention(value: str) -> str:
    if not _RETENTION.fullmatch(value):
        raise invalid(f"'{value}' is not a retention like 8 (hours), 1h or 30m")
    return value


def _check_quota(value: int) -> int:
    if value > MAX_QUOTA_BACKEND_BYTES:
        raise invalid(f"{value} is above etcd's maximum of {MAX_QUOTA_BACKEND_BYTES} (8 GiB)")
    return value


def _check_election_timeout(value: int) -> int:
    if value > MAX_ELECTION_TIMEOUT_MS:
        raise invalid(f"{value} ms is above etcd's maximum of {MAX_ELECTION_TIMEOUT_MS} ms")
    return value


def _check_schedule(value: str) -> str:
    if not value.strip() or "\n" in value:
        raise invalid("must be one systemd OnCalendar expression, e.g. 'daily' or '*-*-* 02:00'")
    return value


Retention = Annotated[str, AfterValidator(_check_retention)]
QuotaBytes = Annotated[Count, AfterValidator(_check_quota)]
ElectionTimeout = Annotated[Count, AfterValidator(_check_election_timeout)]
Schedule = Annotated[str, AfterValidator(_check_schedule)]


class ExternalEtcd(ConfigModel):
    """An etcd cluster run by someone else (``etcd.type: external``)."""

    endpoints: list[Url] = Field(default_factory=list)
    ca_file: FilePath | None = None
    cert_file: FilePath | None = None
    key_file: FilePath | None = None


class EtcdBackup(ConfigModel):
    """Scheduled snapshots on the etcd hosts: a systemd timer when ``schedule`` is set."""

    schedule: Schedule | None = None
    keep: Count = 7
    dir: AbsolutePath = Path("/var/backups/etcd")


class Etcd(ConfigModel):
    """Where etcd runs: ``kubexm`` (binaries under systemd on the etcd hosts), ``kubeadm``
    (static pods on the masters) or ``external``; and how it is tuned."""

    type: Literal["kubexm", "kubeadm", "external"] = "kubexm"
    version: Version = DEFAULT_ETCD_VERSION
    data_dir: AbsolutePath = Path("/var/lib/etcd")
    heartbeat_interval: Count = 250
    """Milliseconds between leader heartbeats."""
    election_timeout: ElectionTimeout = 5000
    """Milliseconds a follower waits for a heartbeat before calling an election."""
    quota_backend_bytes: QuotaBytes = 2 * GIB
    auto_compaction_retention: Retention = "8"
    snapshot_count: Count = 10_000
    extra_args: dict[str, ArgValue] = Field(default_factory=dict)
    backup: EtcdBackup = Field(default_factory=EtcdBackup)
    external: ExternalEtcd = Field(default_factory=ExternalEtcd)


def etcd_problems(etcd: Etcd, loc: Loc) -> list[Problem]:
    """Rules across the fields of ``spec.etcd`` (at ``loc``)."""
    problems: list[Problem] = []
    if etcd.type == "external" and not etcd.external.endpoints:
        problems.append(
            (
                (*loc, "external", "endpoints"),
                "at least one endpoint is required when etcd.type is external",
            )
        )
    external = etcd.external
    if (external.cert_file is None) != (external.key_file is None):
        missing = "keyFile" if external.key_file is None else "certFile"
        problems.append(
            ((*loc, "external", missing), "certFile and keyFile go together: set both or neither")
        )
    if etcd.election_timeout < 5 * etcd.heartbeat_interval:
        problems.append(
            (
                (*loc, "electionTimeout"),
                f"{etcd.election_timeout} ms must be at least 5 times heartbeatInterval "
                f"({etcd.heartbeat_interval} ms), as etcd requires",
            )
        )
    for key in etcd.extra_args:
        where = (*loc, "extraArgs", key)
        name = key.removeprefix("--")
        if key != name:
            problems.append((where, f"write the flag without dashes: '{name}'"))
        elif not _ARG_NAME.fullmatch(name):
            problems.append((where, f"'{key}' is not an etcd flag name (lower case, digits, '-')"))
        elif name in MANAGED_ARGS:
            problems.append((where, f"'{name}' is set by kubexms from {MANAGED_ARGS[name]}"))
    return problems
