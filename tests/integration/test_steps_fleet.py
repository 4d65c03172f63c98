"""The building blocks on real hosts: systemd PID 1, sshd, sudo.

A tiny real service (Python's http.server on a port, its port in a config file) is
installed, restarted exactly once when its config changes, left alone by a second run,
rolled through hosts one at a time; a failing unit's error shows its journal. Artifacts and
PKI files land over SSH as a sudo user with the modes and owners asked for.
"""

from __future__ import annotations

import hashlib
import io
import secrets
import tarfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from kubexms.artifacts import ArtifactStore, ManifestEntry
from kubexms.config import load_config
from kubexms.engine import Engine, EventBus, EventKind, Module, Pipeline, Roles, Task
from kubexms.runtime import ClusterRuntime, Context, new_runtime
from kubexms.steps import (
    Health,
    PKIFile,
    PlaceArtifact,
    PlacePKIFiles,
    RestartService,
    ServiceFile,
    ServiceUnhealthyError,
    SystemdService,
    rolling,
)
from tests.leasing import HostLease, LeaseHosts

pytestmark = pytest.mark.fleet

UNIT = """[Unit]
Description=kubexms building-block test service

[Service]
EnvironmentFile={config}
ExecStartPre=/bin/sh -c 'echo start >> {starts}'
ExecStart=/usr/bin/python3 -m http.server ${{PORT}} --bind 127.0.0.1 --directory /tmp

[Install]
WantedBy=multi-user.target
"""


@asynccontextmanager
async def _runtime(
    hosts: HostLease, directory: Path, user: str = "root"
) -> AsyncIterator[ClusterRuntime]:
    """A runtime over the leased hosts (all of them etcd and worker, the first master)."""

    def edit(document: dict[str, Any]) -> None:
        names = hosts.names
        document["spec"]["roleGroups"] = {"master": names[:1], "etcd": names, "worker": names}
        document["spec"].setdefault("global", {})["workDir"] = str(directory / "work")

    cluster = load_config(hosts.cluster_file(directory, user=user, edit=edit))
    async with await new_runtime(cluster) as runtime:
        yield runtime


class ServiceUnderTest:
    """One unique unit per test on fleet hosts; removed afterwards."""

    def __init__(self, hosts: HostLease) -> None:
        self.hosts = hosts
        self.name = f"kxms-block-{secrets.token_hex(3)}"
        self.unit = f"{self.name}.service"
        self.config = f"/etc/{self.name}/env"
        self.starts = f"/var/lib/{self.name}.starts"
        self.port = 18000 + secrets.randbelow(2000)

    def step(self, extra: str = "", **more: Any) -> SystemdService:
        return SystemdService(
            self.name,
            UNIT.format(config=self.config, starts=self.starts),
            files=(ServiceFile(self.config, f"PORT={self.port}\n{extra}", mode=0o640),),
            health=Health(port=self.port, timeout=20, interval=0.2),
            **more,
        )

    async def starts_count(self, index: int = 0) -> int:
        out = await self.hosts.run(self.hosts[index], f"cat {self.starts} || true")
        return out.count("start")

    async def remove(self) -> None:
        for host in self.hosts:
            await self.hosts.run(
                host,
                f"systemctl disable --now {self.unit} >/dev/null 2>&1 || true; "
                f"rm -rf /etc/systemd/system/{self.unit} /etc/{self.name} {self.starts} "
                f"/var/lib/kubexms/restart-pending/{self.unit}; systemctl daemon-reload; "
                f"systemctl reset-failed {self.unit} 2>/dev/null || true",
            )


async def test_service_restarts_once_per_config_change_and_never_otherwise(
    lease: LeaseHosts, tmp_path: Path
) -> None:
    hosts = lease(1, init="systemd")
    service = ServiceUnderTest(hosts)
    try:
        async with _runtime(hosts, tmp_path, user="ops") as runtime:
            ctx = runtime.new_context(runtime.hosts[0])
            first = await service.step().run(ctx)
            assert first.changed
            assert "started" in first.detail
            assert await hosts.run(hosts[0], f"systemctl is-enabled {service.unit}") == (
                "enabled\n"
            )
            assert await hosts.run(hosts[0], f"stat -c %a {service.config}") == "640\n"
            assert await service.starts_count() == 1

            assert not (await service.step().precheck(ctx)).changed
            again = await service.step().run(ctx)
            assert not again.changed
            assert await service.starts_count() == 1

            changed = service.step("# tuned\n")
            pending = await changed.precheck(ctx)
            assert pending.detail == f"write {service.config} (+1 -0 lines); restart"
            done = await changed.run(ctx)
            assert "restarted" in done.detail
            assert "daemon reloaded" not in done.detail  # only a config file changed
            assert await service.starts_count() == 2
            assert not (await changed.run(ctx)).changed
            assert await service.starts_count() == 2

            # A stopped service is started by the rerun (it heals).
            await hosts.run(hosts[0], f"systemctl stop {service.unit}")
            assert (await changed.precheck(ctx)).detail == "start"
            await changed.run(ctx)
            assert await service.starts_count() == 3
            assert await hosts.run(hosts[0], f"systemctl is-active {service.unit}") == "active\n"
    finally:
        await service.remove()


async def test_a_failing_unit_error_carries_its_journal(lease: LeaseHosts, tmp_path: Path) -> None:
    hosts = lease(1, init="systemd")
    service = ServiceUnderTest(hosts)
    token = f"kxms-{secrets.token_hex(4)}"
    step = SystemdService(
        service.name,
        f"[Service]\nExecStart=/bin/sh -c 'echo {token} bad setting >&2; exit 3'\n",
        enable=False,
        health=Health(port=service.port, timeout=5, interval=0.2),
    )
    try:
        async with _runtime(hosts, tmp_path) as runtime:
            with pytest.raises(ServiceUnhealthyError) as caught:
                await step.run(runtime.new_context(runtime.hosts[0]))
        message = str(caught.value)
        assert f"{service.unit} is not healthy" in message
        assert f"{token} bad setting" in message
        assert "last journal lines" in message
    finally:
        await service.remove()


async def test_a_health_command_that_never_passes(lease: LeaseHosts, tmp_path: Path) -> None:
    hosts = lease(1, init="systemd")
    service = ServiceUnderTest(hosts)
    step = SystemdService(
        service.name,
        UNIT.format(config=service.config, starts=service.starts),
        files=(ServiceFile(service.config, f"PORT={service.port}\n"),),
        health=Health(command=f"test -e /nonexistent-{service.name}", timeout=1, interval=0.2),
    )
    try:
        async with _runtime(hosts, tmp_path) as runtime:
            with pytest.raises(ServiceUnhealthyError, match="did not succeed within 1s"):
                await step.run(runtime.new_context(runtime.hosts[0]))
    finally:
        await service.remove()


async def test_a_changed_config_rolls_one_host_at_a_time(lease: LeaseHosts, tmp_path: Path) -> None:
    hosts = lease(3, init="systemd")
    service = ServiceUnderTest(hosts)

    def pipeline(extra: str) -> Pipeline:
        health = Health(port=service.port, timeout=20, interval=0.2)

        class Rolled(Module):
            name = "service"

            def tasks(self, ctx: Any) -> list[Task]:
                install = Task("install", [service.step(extra, defer_restart=True)], Roles("etcd"))
                restarts = rolling(
                    ctx, "restart", [RestartService(service.name, health)], Roles("etcd")
                )
                return [install, *restarts]

        return Pipeline("rolling", [Rolled()])

    try:
        async with _runtime(hosts, tmp_path) as runtime:
            first = await Engine(runtime).run(pipeline("").plan(runtime.config))
            assert first.succeeded, first.failures
            events: list[Any] = []
            result = await Engine(runtime, events=EventBus(events.append)).run(
                pipeline("# v2\n").plan(runtime.config)
            )
            assert result.succeeded, result.failures
        restarted = [
            (event.node, event.host, event.time)
            for event in events
            if event.kind == EventKind.CHANGED and "/restart-" in (event.node or "")
        ]
        starts = [e for e in events if e.kind == EventKind.STARTED and "/restart-" in e.node]
        assert len(restarted) == 3
        # Each host's restart began only after the previous host was healthy again.
        for before, after in zip(restarted, starts[1:], strict=False):
            assert after.time >= before[2]
        for index in range(3):
            assert await service.starts_count(index) == 2
    finally:
        await service.remove()


def _tarball(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


async def test_artifact_and_pki_files_land_as_a_sudo_user(
    lease: LeaseHosts, tmp_path: Path
) -> None:
    hosts = lease(1)
    work = tmp_path / "work"
    release = _tarball({"rel-v1/tool": b"#!/bin/sh\necho tool\n", "rel-v1/extra": b"x\n"})
    store = ArtifactStore(work / "artifacts")
    entry = ManifestEntry(
        component="rel",
        version="v1",
        arch="noarch",
        file="rel-v1.tar.gz",
        sha256=hashlib.sha256(release).hexdigest(),
        size=len(release),
        url="https://example.invalid/rel-v1.tar.gz",
        checksum_source="test",
    )
    store.path_of(entry).parent.mkdir(parents=True)
    store.path_of(entry).write_bytes(release)
    store.record([entry])
    (work / "pki" / "etcd").mkdir(parents=True)
    (work / "pki" / "etcd" / "ca.crt").write_bytes(b"ca certificate\n")
    (work / "pki" / "etcd" / "ca.key").write_bytes(b"ca private key\n")

    root = f"/opt/kxms-blocks-{secrets.token_hex(3)}"
    place = PlaceArtifact(
        "rel",
        f"{root}/bin",
        extract=True,
        members=("rel-v1/tool",),
        strip_components=1,
        remote_dir=f"{root}/cache",
    )
    pki = PlacePKIFiles(
        (
            PKIFile("etcd/ca.crt", f"{root}/pki/ca.crt"),
            PKIFile("etcd/ca.key", f"{root}/pki/ca.key"),
        ),
        owner="nobody",
    )
    binary = PlaceArtifact("rel", f"{root}/bin/release.tgz", mode=0o600, owner="nobody")
    try:
        async with _runtime(hosts, tmp_path, user="deployer") as runtime:
            ctx: Context = runtime.new_context(runtime.hosts[0])
            assert (await place.precheck(ctx)).changed
            assert (await place.run(ctx)).changed
            assert (await pki.run(ctx)).changed
            assert (await binary.run(ctx)).changed
            assert not (await place.precheck(ctx)).changed
            assert not (await pki.precheck(ctx)).changed
            assert not (await binary.precheck(ctx)).changed
        listing = await hosts.run(
            hosts[0],
            f"cd {root} && stat -c '%n %a %U' bin/tool bin/release.tgz pki/ca.crt pki/ca.key",
        )
        assert listing.splitlines() == [
            "bin/tool 755 root",
            "bin/release.tgz 600 nobody",
            "pki/ca.crt 644 nobody",
            "pki/ca.key 600 nobody",
        ]
        assert not (await hosts.run(hosts[0], f"ls {root}/bin")).count("extra")
    finally:
        await hosts.run(hosts[0], f"rm -rf {root}")
