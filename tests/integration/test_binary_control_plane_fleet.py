"""Binary mode's master services (``kubernetes.type: kubexm``) on real systemd hosts:
``kubexms create cluster --only control-plane`` (OS preparation, container runtime and load
balancer skipped; tests/e2e/test_create_cluster_binary.py runs the whole way) brings up
kube-apiserver, kube-controller-manager and kube-scheduler as systemd services on three
masters, on a real 3-member TLS etcd (Debian's, in etcd's release layout), with the kubelet and
kube-proxy on every master.

The Kubernetes binaries are doubles (tests/doubles: kube-apiserver on the real etcd, the other
four from tests/doubles/control_plane), placed by kubexms from the artifact store like the real
release files (pinned by sha256); kubectl is the REAL one. The tests build on each other: a first
creation, what a real kubectl with ``<workDir>/kubeconfig`` sees through the endpoint, a rerun
that changes nothing.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml

from kubexms.sandbox import Fleet
from tests.doubles import artifact_overrides, build_double, kubectl_release, real_kubectl
from tests.doubles.control_plane.build import build_control_plane_double
from tests.etcd_cluster import changed_counts
from tests.fixtures.artifacts.etcd_release import EtcdReleaseUnavailableError, build_etcd_release
from tests.leasing import HostPool

pytestmark = pytest.mark.fleet

VERSION = "v1.32.0"
RUN_TIMEOUT = 1500.0
SERVICES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy")
CLEAN_UP = (
    "systemctl disable --now kube-apiserver kube-controller-manager kube-scheduler kubelet "
    "kube-proxy etcd 2>/dev/null; "
    "rm -rf /etc/systemd/system/kube-*.service /etc/systemd/system/kubelet.service "
    "/etc/systemd/system/etcd.service /etc/kubernetes /etc/etcd /var/lib/etcd /var/lib/kubelet "
    "/var/lib/kube-proxy /usr/local/bin/kube* /usr/local/bin/etcd* "
    "/var/lib/kubexms/restart-pending; systemctl daemon-reload"
)


@dataclass
class Binary:
    fleet: Fleet
    hosts: list[str]
    cluster: Path
    work: Path

    async def run(self, *extra: str) -> tuple[int, str, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "kubexms", "create", "cluster", "-f", str(self.cluster),
            "--only", "control-plane", "--skip", "os,container-runtime,loadbalancer", *extra,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT)
        assert process.returncode is not None
        return process.returncode, out.decode(), err.decode()

    async def on(self, host: str, command: str) -> str:
        code, out, err = await self.fleet.host_exec(host, command)
        assert code == 0, f"{host}: {command!r} exited {code}: {err}{out}"
        return out

    def kubectl(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The REAL kubectl on this machine with the user's kubeconfig."""
        return subprocess.run(
            [str(real_kubectl(VERSION)), f"--kubeconfig={self.work / 'kubeconfig'}", *args],
            capture_output=True, text=True, timeout=60, check=False,
            env={"PATH": "/usr/bin:/bin", "HOME": str(self.work)},
        )  # fmt: skip


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def binary(
    fleet_pool: HostPool, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Binary]:
    directory = tmp_path_factory.mktemp("create-binary")
    try:
        etcd = build_etcd_release(directory)
    except EtcdReleaseUnavailableError as error:
        pytest.fail(f"cannot build the etcd release tarball: {error}", pytrace=False)
    releases = directory / "releases"
    files = [
        build_double("kube-apiserver", VERSION, releases),
        *(build_control_plane_double(name, VERSION, releases)
          for name in ("kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy")),
        kubectl_release(VERSION, releases),
    ]  # fmt: skip
    with fleet_pool.lease(3, init="systemd", holder=__name__) as leased:
        names = leased.names

        def shape(document: dict[str, Any]) -> None:
            spec = document["spec"]
            document["metadata"]["name"] = "binary-test"
            spec["roleGroups"] = {"master": names, "etcd": names, "worker": []}
            spec["global"]["workDir"] = str(directory / "work")
            spec["etcd"] = {"version": etcd.version}
            spec["kubernetes"] = {"type": "kubexm", "version": VERSION}
            # No load balancer in this test: the endpoint is the first master's API server.
            first = next(h for h in spec["hosts"] if h["name"] == names[0])
            spec["controlPlaneEndpoint"] = {
                "address": first.get("internalAddress", first["address"])
            }
            spec["artifacts"] = {
                "overrides": {
                    "etcd": {"url": f"file://{etcd.path}", "sha256": {"amd64": etcd.sha256}},
                    **artifact_overrides(*files),
                }
            }

        cluster = leased.cluster_file(directory, edit=shape, name="cluster.yaml")
        try:
            yield Binary(leased.fleet, names, cluster, directory / "work")
        finally:
            for name in names:
                await leased.fleet.host_exec(name, CLEAN_UP)


async def test_first_creation_runs_the_control_plane_as_services(binary: Binary) -> None:
    code, out, err = await binary.run("-o", "json")
    assert code == 0, err + out
    document = json.loads(out)
    assert document["outcome"] == "succeeded"
    for host in binary.hosts:
        for service in SERVICES:
            state = await binary.on(host, f"systemctl is-active {service}")
            assert state.strip() == "active", (host, service)
        assert "(kubexms test double)" in await binary.on(
            host, "/usr/local/bin/kube-apiserver --version"
        )
        modes = await binary.on(
            host,
            "stat -c '%n %a' /etc/kubernetes/encryption-config.yaml /etc/kubernetes/admin.conf",
        )
        assert modes.split() == ["/etc/kubernetes/encryption-config.yaml", "600",
                                 "/etc/kubernetes/admin.conf", "600"]  # fmt: skip
    assert (binary.work / "kubernetes" / "encryption-config.yaml").stat().st_mode & 0o777 == 0o600


async def test_a_real_kubectl_with_the_users_kubeconfig_sees_the_cluster(binary: Binary) -> None:
    ready = binary.kubectl("get", "--raw", "/readyz")
    assert (ready.returncode, ready.stdout.strip()) == (0, "ok"), ready.stderr
    binding = binary.kubectl("get", "clusterrolebinding", "kubeadm:cluster-admins", "-o", "json")
    assert binding.returncode == 0, binding.stderr
    assert json.loads(binding.stdout)["roleRef"]["name"] == "cluster-admin"
    info = binary.kubectl("get", "configmap", "cluster-info", "-n", "kube-public", "-o", "yaml")
    assert "certificate-authority-data" in yaml.safe_load(info.stdout)["data"]["kubeconfig"]
    nodes = json.loads(binary.kubectl("get", "nodes", "-o", "json").stdout)["items"]
    assert sorted(node["metadata"]["name"] for node in nodes) == sorted(binary.hosts)
    for node in nodes:
        assert node["spec"]["taints"][0]["key"] == "node-role.kubernetes.io/control-plane"


async def test_a_rerun_changes_nothing(binary: Binary) -> None:
    code, out, err = await binary.run("-o", "json")
    assert code == 0, err + out
    document = json.loads(out)
    assert set(changed_counts(document).values()) == {0}, document["hosts"]
