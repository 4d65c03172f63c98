"""A 3-member etcd made by `kubexms create cluster --only etcd` on leased fleet hosts, for the
e2e and fault tiers: the cluster file (etcd 3.4.23 from Debian in etcd's release layout, pinned
by sha256), a runner of the command, and etcdctl on this machine with the cluster's client
certificate."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tarfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubexms.sandbox import Fleet
from tests.fixtures.artifacts.etcd_release import (
    EtcdRelease,
    EtcdReleaseUnavailableError,
    build_etcd_release,
)
from tests.leasing import PACKAGES_INSTALLED, HostPool

RUN_TIMEOUT = 1200.0
CLEAN_UP = (
    "systemctl disable --now etcd 2>/dev/null; rm -rf /var/lib/etcd /etc/etcd "
    "/etc/systemd/system/etcd.service /var/lib/etcd-foreign /usr/local/bin/etcd "
    "/usr/local/bin/etcdctl /etc/kubernetes; systemctl daemon-reload"
)


@dataclass
class Etcd:
    fleet: Fleet
    hosts: list[str]
    addresses: dict[str, str]
    cluster: Path
    work: Path
    debs: Path
    etcdctl: Path
    release: EtcdRelease

    def args(self, *extra: str, cluster: Path | None = None) -> list[str]:
        return [
            sys.executable,
            "-m",
            "kubexms",
            "create",
            "cluster",
            "-f",
            str(cluster or self.cluster),
            "--only",
            "etcd",
            "--download-packages",
            "--packages-dir",
            str(self.debs),
            *extra,
        ]

    async def start(self, *extra: str, cluster: Path | None = None) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            *self.args(*extra, cluster=cluster),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )

    async def run(self, *extra: str, cluster: Path | None = None) -> tuple[int, str, str]:
        return await finish(await self.start(*extra, cluster=cluster))

    def logs(self) -> set[Path]:
        return set((self.work / "runs").glob("*.jsonl"))

    async def on(self, host: str, command: str) -> str:
        code, out, err = await self.fleet.host_exec(host, command)
        assert code == 0, f"{host}: {command!r} exited {code}: {err}"
        return out

    def endpoints(self, hosts: list[str] | None = None) -> str:
        chosen = hosts if hosts is not None else self.hosts
        return ",".join(f"https://{self.addresses[name]}:2379" for name in chosen)

    def client(
        self, *args: str, hosts: list[str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """etcdctl on this machine with the API server's client certificate."""
        pki = self.work / "pki"
        return subprocess.run(
            [
                str(self.etcdctl),
                f"--endpoints={self.endpoints(hosts)}",
                f"--cacert={pki / 'etcd' / 'ca.crt'}",
                f"--cert={pki / 'apiserver-etcd-client.crt'}",
                f"--key={pki / 'apiserver-etcd-client.key'}",
                "--command-timeout=10s",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env={"ETCDCTL_API": "3", "PATH": "/usr/bin:/bin"},
            check=False,
        )


async def finish(process: asyncio.subprocess.Process) -> tuple[int, str, str]:
    out, err = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@asynccontextmanager
async def etcd_cluster(pool: HostPool, directory: Path, holder: str) -> AsyncIterator[Etcd]:
    """Three leased systemd hosts, all etcd members (the first also master), and the files to
    create the cluster; the hosts are cleaned of etcd when the block ends."""
    try:
        release = build_etcd_release(directory)
    except EtcdReleaseUnavailableError as error:
        pytest.fail(f"cannot build the etcd release tarball: {error}", pytrace=False)
    with tarfile.open(release.path) as archive:
        handle = archive.extractfile(f"etcd-{release.version}-linux-amd64/etcdctl")
        assert handle is not None
        etcdctl = directory / "etcdctl"
        etcdctl.write_bytes(handle.read())
        etcdctl.chmod(0o755)
    with pool.lease(3, init="systemd", holder=holder, prefer=PACKAGES_INSTALLED) as leased:
        names = leased.names

        def shape(document: dict[str, Any]) -> None:
            document["metadata"]["name"] = "etcd-test"
            document["spec"]["roleGroups"] = {"master": names[:1], "etcd": names, "worker": []}
            document["spec"]["global"]["workDir"] = str(directory / "work")
            document["spec"]["etcd"] = {"version": release.version}
            document["spec"]["artifacts"] = {
                "overrides": {
                    "etcd": {"url": f"file://{release.path}", "sha256": {"amd64": release.sha256}}
                }
            }

        cluster = leased.cluster_file(directory, edit=shape, name="cluster.yaml")
        document = yaml.safe_load(cluster.read_text())
        addresses = {
            host["name"]: host.get("internalAddress", host["address"])
            for host in document["spec"]["hosts"]
        }
        try:
            yield Etcd(
                leased.fleet,
                names,
                addresses,
                cluster,
                directory / "work",
                pool.packages_dir,  # downloaded once per session
                etcdctl,
                release,
            )
        finally:
            for name in names:  # leave the hosts as the next lease expects them
                await leased.fleet.host_exec(name, CLEAN_UP)


def changed_counts(document: dict[str, Any]) -> dict[str, int]:
    return {host: counts["changed"] for host, counts in document["hosts"].items()}
