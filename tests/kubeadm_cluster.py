"""A kubeadm-mode cluster made by `kubexms create cluster` on 5 leased systemd hosts (3 masters,
2 workers that also run the load balancer for a virtual IP), plus a registry host on request,
for the e2e tier: the cluster file (the kubeadm and kubelet doubles, a real kubectl, Debian's
etcd and containerd in their release layouts, all pinned by sha256), a runner of the command and
a real kubectl on this machine. The kubeadm e2es and the full twelve-phase run share it."""

from __future__ import annotations

import asyncio
import ipaddress
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.doubles import kubectl_release, real_kubectl
from tests.doubles.kubeadm_double import build
from tests.fixtures.artifacts.etcd_release import (
    EtcdReleaseUnavailableError,
    build_etcd_release,
)
from tests.fixtures.artifacts.runtime_release import (
    ReleaseFile,
    RuntimeReleaseUnavailableError,
    build_runtime_releases,
)
from tests.leasing import PACKAGES_INSTALLED, HostLease, HostPool

VERSION = "v1.32.0"
RUN_TIMEOUT = 1800.0
REGISTRY_PORT = 5443
REGISTRY_USER = "kubexms"
REGISTRY_PASSWORD = "full-run-registry-9"
CLEAN_UP = r"""
# Stopping the kubelet stops its static pods (they live in its cgroup). No pkill -f here: it
# would match this very script and stop it.
systemctl disable --now kubelet etcd containerd kubexms-lb kubexms-keepalived 2>/dev/null
systemctl disable --now kubexms-registry 2>/dev/null
rm -rf /etc/kubernetes /var/lib/kubelet /var/lib/etcd /etc/etcd /etc/containerd /etc/cni
rm -f /etc/systemd/system/kubelet.service /etc/systemd/system/etcd.service
rm -rf /etc/systemd/system/kubelet.service.d /usr/local/bin/kube* /var/lib/kubexms
rm -f /etc/systemd/system/containerd.service /etc/systemd/system/kubexms-*.service
rm -rf /etc/kubexms /etc/kubexms-registry /var/lib/kubexms-registry /usr/local/bin/registry
systemctl daemon-reload
true
"""


@dataclass
class Cluster:
    hosts: HostLease
    directory: Path
    file: Path
    vip: str
    debs: Path
    only: str | None = "workers"
    """The phases a run is limited to (``--only``); None: all twelve."""
    private: str | None = None
    """The private registry (``address:port`` of the registry host) when there is one."""

    @property
    def work(self) -> Path:
        return self.directory / "work"

    def args(self, *extra: str) -> list[str]:
        return [
            sys.executable, "-m", "kubexms", "create", "cluster", "-f", str(self.file),
            *(("--only", self.only) if self.only else ()),
            # The OS packages: downloaded here on the first run, each host given what it lacks.
            "--download-packages", "--packages-dir", str(self.debs), *extra,
        ]  # fmt: skip

    async def start(self, *extra: str) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            *self.args(*extra), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )

    async def run(self, *extra: str) -> tuple[int, str, str]:
        process = await self.start(*extra)
        out, err = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT)
        assert process.returncode is not None
        return process.returncode, out.decode(), err.decode()

    def kubectl(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The real kubectl on this machine with the cluster's admin kubeconfig, through the
        endpoint (the virtual IP)."""
        kubeconfig = self.work / "kubeconfig"
        if not kubeconfig.exists():
            kubeconfig = self.work / "pki" / "kubeconfig" / "admin.conf"
        return subprocess.run(
            [str(real_kubectl(VERSION)), f"--kubeconfig={kubeconfig}",
             f"--server=https://{self.vip}:6443", "--request-timeout=20s", *args],
            capture_output=True, text=True, timeout=120, check=False,
            env={"PATH": "/usr/bin:/bin", "HOME": str(self.directory)},
        )  # fmt: skip


def changed_counts(document: dict[str, Any]) -> dict[str, int]:
    return {host: counts["changed"] for host, counts in document["hosts"].items()}


@asynccontextmanager
async def kubeadm_cluster(
    pool: HostPool,
    directory: Path,
    holder: str,
    etcd_type: str = "kubexm",
    *,
    registry_host: bool = False,
    only: str | None = "workers",
    releases: Sequence[ReleaseFile] = (),
    edit: Callable[[dict[str, Any]], None] | None = None,
) -> AsyncIterator[Cluster]:
    """The hosts leased and the files made; the hosts cleaned when the block ends.

    ``registry_host``: a sixth host runs the private registry (``type: registry``, TLS and a
    login); otherwise the cluster names a registry that nothing pulls from (importing images is
    then skipped). ``releases`` join the artifact overrides (by their own version and file
    name); ``edit`` changes the cluster document last."""
    releases_dir = directory / "releases"
    try:
        etcd = build_etcd_release(directory)
        (directory / "runtime").mkdir()
        runtime = build_runtime_releases(directory / "runtime")
    except (EtcdReleaseUnavailableError, RuntimeReleaseUnavailableError) as error:
        pytest.fail(f"cannot build the release artifacts: {error}", pytrace=False)
    doubles = [build(name, VERSION, releases_dir) for name in ("kubeadm", "kubelet")]
    kubectl = kubectl_release(VERSION, releases_dir)
    overrides: dict[str, Any] = dict(runtime.overrides())
    overrides["etcd"] = {"url": f"file://{etcd.path}", "sha256": {"amd64": etcd.sha256}}
    for release in (*doubles, kubectl):
        overrides[release.component] = {
            "url": f"file://{release.path}", "sha256": {"amd64": release.sha256}
        }  # fmt: skip
    for release in releases:
        arch = "noarch" if release.component == "calico-manifests" else "amd64"
        overrides[release.component] = {
            "version": release.version, "file": release.path.name, "url": release.url,
            "sha256": {arch: release.sha256},
        }  # fmt: skip
    count = 6 if registry_host else 5
    with pool.lease(count, init="systemd", holder=holder, prefer=PACKAGES_INSTALLED) as leased:
        names = leased.names
        vip = str(ipaddress.ip_network(leased.fleet.subnet, strict=False).broadcast_address - 9)
        private = None
        if registry_host:
            registry = next(h for h in leased.cluster_document()["spec"]["hosts"]
                            if h["name"] == names[5])  # fmt: skip
            private = f"{registry.get('internalAddress', registry['address'])}:{REGISTRY_PORT}"

        def shape(document: dict[str, Any]) -> None:
            spec = document["spec"]
            document["metadata"]["name"] = "kubeadm-test"
            spec["roleGroups"] = {
                "master": names[:3], "etcd": names[:3], "worker": names[3:5],
                "loadbalancer": names[3:5],
            }  # fmt: skip
            spec["global"]["workDir"] = str(directory / "work")
            spec["controlPlaneEndpoint"] = {
                "address": vip, "loadBalancer": {"type": "external", "kind": "haproxy"}
            }  # fmt: skip
            spec["kubernetes"] = {
                "version": VERSION,
                "containerRuntime": {"version": runtime.containerd.version},
            }
            spec["etcd"] = (
                {"version": etcd.version} if etcd_type == "kubexm" else {"type": etcd_type}
            )
            if private is None:
                # Nothing pulls images here: naming a registry skips importing them.
                spec["registry"] = {"privateRegistry": "registry.kubexms.test"}
            else:
                spec["roleGroups"]["registry"] = names[5:]
                spec["registry"] = {
                    "type": "registry",
                    "privateRegistry": private,
                    "auths": {private: {"username": REGISTRY_USER, "password": REGISTRY_PASSWORD}},
                }
            spec["artifacts"] = {"overrides": overrides}
            if edit is not None:
                edit(document)

        file = leased.cluster_file(directory, edit=shape, name="cluster.yaml")
        try:
            yield Cluster(leased, directory, file, vip, directory / "debs", only, private)
        finally:
            await asyncio.gather(*(leased.fleet.host_exec(name, CLEAN_UP) for name in names))
