"""Fixtures of the artifacts unit tests: clusters, a loopback server, a real etcd tarball.

Every test here is held to loopback: a socket connecting anywhere but 127.0.0.1 fails the test,
so no test can reach the internet even by a mistake in a URL.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubexms.config import Cluster, parse_config
from tests.fixtures.artifacts.etcd_release import (
    EtcdRelease,
    EtcdReleaseUnavailableError,
    build_etcd_release,
)
from tests.fixtures.artifacts.server import ArtifactServer, artifact_server

_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: Any) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            raise AssertionError(f"a test tried to connect to {address!r}: not loopback")
    _connect(self, address)


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)


@pytest.fixture
def server() -> Iterator[ArtifactServer]:
    with artifact_server() as running:
        yield running


@pytest.fixture(scope="session")
def etcd_release(tmp_path_factory: pytest.TempPathFactory) -> EtcdRelease:
    try:
        return build_etcd_release(tmp_path_factory.mktemp("etcd-release"))
    except EtcdReleaseUnavailableError as error:
        pytest.fail(f"cannot build the etcd release tarball: {error}", pytrace=False)


def cluster_data(
    hosts: list[dict[str, Any]],
    roles: dict[str, list[str]],
    *,
    work_dir: Path | None = None,
    **spec: Any,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "apiVersion": "kubexms.io/v1alpha1",
        "kind": "Cluster",
        "metadata": {"name": "arts"},
        "spec": {"hosts": hosts, "roleGroups": roles, **spec},
    }
    if work_dir is not None:
        data["spec"]["global"] = {"workDir": str(work_dir)}
    return data


def make_cluster(
    hosts: list[dict[str, Any]],
    roles: dict[str, list[str]],
    *,
    work_dir: Path | None = None,
    **spec: Any,
) -> Cluster:
    data = cluster_data(hosts, roles, work_dir=work_dir, **spec)
    return parse_config(yaml.safe_dump(data), "<test>")


def host(name: str, number: int, arch: str | None = "amd64") -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "address": f"10.213.250.{number}"}
    if arch is not None:
        entry["arch"] = arch
    return entry


@pytest.fixture
def one_node(tmp_path: Path) -> Cluster:
    """One amd64 host in every role; work dir under tmp_path."""
    return make_cluster(
        [host("n1", 1)],
        {"master": ["n1"], "etcd": ["n1"], "worker": ["n1"]},
        work_dir=tmp_path / "work",
    )
