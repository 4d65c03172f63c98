"""The container-runtime phase on real systemd hosts: Debian's containerd 1.6.20 and runc 1.1.5
in their upstream release layout, a busybox image built here, imported and run with ``ctr``;
the CRI answers ``crictl info`` (the crictl double is tests/cri_client.py)."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from kubexms.artifacts import (
    ArtifactStore,
    ImageRef,
    ImageStore,
    artifact_settings,
    download_artifacts,
    host_architectures,
    plan_artifacts,
)
from kubexms.config import Cluster, load_config
from kubexms.containerd import ContainerRuntimeModule
from kubexms.engine import Engine, EventBus, EventKind, Pipeline, RunResult
from kubexms.engine._events import Event
from kubexms.runtime import new_runtime
from tests.cri_client import DOUBLE_MARK
from tests.fixtures.artifacts.busybox_image import BuiltImage, build_busybox_image
from tests.fixtures.artifacts.runtime_release import (
    RuntimeReleases,
    RuntimeReleaseUnavailableError,
    build_runtime_releases,
)
from tests.leasing import HostLease, LeaseHosts

pytestmark = pytest.mark.fleet

IMAGE = "registry.kubexms.test/tools/busybox:1.35"
CLEANUP = (
    "systemctl disable --now containerd >/dev/null 2>&1 || true; "
    "for c in $(ctr -n k8s.io containers ls -q 2>/dev/null); do "
    "ctr -n k8s.io tasks kill -s KILL $c 2>/dev/null; ctr -n k8s.io tasks rm -f $c; "
    "ctr -n k8s.io containers rm $c; done; "
    "pkill -x containerd-shim-runc-v2 || true; "
    "rm -rf /etc/systemd/system/containerd.service /etc/containerd /etc/crictl.yaml "
    "/usr/local/bin/containerd* /usr/local/bin/ctr /usr/local/bin/crictl /usr/local/sbin/runc "
    "/opt/cni /var/lib/kubexms/restart-pending/containerd.service; "
    "umount -R /run/containerd 2>/dev/null; rm -rf /run/containerd; "
    "find /var/lib/containerd -mindepth 1 -maxdepth 1 -exec rm -rf {} + 2>/dev/null; "
    "systemctl daemon-reload; systemctl reset-failed containerd 2>/dev/null || true"
)


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> RuntimeReleases:
    try:
        return build_runtime_releases(tmp_path_factory.mktemp("runtime-release"))
    except RuntimeReleaseUnavailableError as error:
        pytest.fail(f"cannot build the runtime release artifacts: {error}", pytrace=False)


@pytest.fixture(scope="module")
def busybox(tmp_path_factory: pytest.TempPathFactory) -> BuiltImage:
    return build_busybox_image(tmp_path_factory.mktemp("busybox"), IMAGE)


def runtime_spec(
    document: dict[str, Any], hosts: HostLease, directory: Path, releases: RuntimeReleases
) -> dict[str, Any]:
    """``document``'s spec made a container-runtime cluster of ``hosts`` (the first the master
    and etcd host, the others workers), its work directory under ``directory``, every runtime
    file pinned to ``releases``; the spec, for the caller's further changes."""
    names = hosts.names
    spec: dict[str, Any] = document["spec"]
    spec["roleGroups"] = {"master": names[:1], "etcd": names[:1], "worker": names[1:]}
    spec.setdefault("global", {})["workDir"] = str(directory / "work")
    spec.setdefault("kubernetes", {})["containerRuntime"] = {"version": releases.containerd.version}
    spec["artifacts"] = {"overrides": releases.overrides()}
    return spec


def _cluster(
    hosts: HostLease, directory: Path, releases: RuntimeReleases, registry: dict[str, Any]
) -> Cluster:
    def edit(document: dict[str, Any]) -> None:
        runtime_spec(document, hosts, directory, releases)["registry"] = registry

    return load_config(hosts.cluster_file(directory, edit=edit))


async def _store_artifacts(cluster: Cluster) -> None:
    plan = plan_artifacts(cluster, await host_architectures(cluster))
    plan = plan.select(["containerd", "runc", "cni-plugins", "crictl"])
    await download_artifacts(plan, ArtifactStore.for_cluster(cluster), artifact_settings(cluster))


async def _run(cluster: Cluster) -> tuple[RunResult, list[Event]]:
    events: list[Event] = []
    graph = Pipeline("create-cluster", [ContainerRuntimeModule()]).plan(cluster)
    async with await new_runtime(cluster) as runtime:
        result = await Engine(runtime, events=EventBus(events.append)).run(graph)
    return result, events


def _changed(events: list[Event]) -> list[tuple[str, str]]:
    return [(e.node or "", e.host or "") for e in events if e.kind == EventKind.CHANGED]


@asynccontextmanager
async def _cleaned(hosts: HostLease) -> AsyncIterator[None]:
    try:
        yield
    finally:
        for host in hosts:
            await hosts.exec(host, CLEANUP)


async def test_containerd_on_three_hosts_runs_an_imported_image_and_reruns_change_nothing(
    lease: LeaseHosts, tmp_path: Path, releases: RuntimeReleases, busybox: BuiltImage
) -> None:
    hosts = lease(3, init="systemd")
    async with _cleaned(hosts):
        cluster = _cluster(hosts, tmp_path, releases, {"mirrors": ["https://mirror.test"]})
        await _store_artifacts(cluster)
        images = ImageStore(ArtifactStore.for_cluster(cluster))
        images.add(ImageRef.parse(IMAGE), busybox.path, ["master", "worker"])

        first, _ = await _run(cluster)
        assert first.succeeded, first.failures

        for host in hosts:
            dump = await hosts.run(host, "containerd config dump")
            assert "SystemdCgroup = true" in dump
            assert 'sandbox_image = "registry.k8s.io/pause:' in dump
            assert 'config_path = "/etc/containerd/certs.d"' in dump
            assert await hosts.run(host, "stat -c %a /etc/containerd/config.toml") == "600\n"
            assert "mirror.test" in await hosts.run(
                host, "cat /etc/containerd/certs.d/docker.io/hosts.toml"
            )
            assert "unix:///run/containerd/containerd.sock" in await hosts.run(
                host, "cat /etc/crictl.yaml"
            )
            listed = await hosts.run(host, "ctr -n k8s.io images ls")
            assert IMAGE in listed
            assert busybox.digest in listed
            runc = await hosts.run(host, "/usr/local/sbin/runc --version")
            assert runc.startswith("runc version 1.1.5")
            assert "bridge" in (await hosts.run(host, "ls /opt/cni/bin")).split()
            # The placed crictl (the CRI client as its double) runs, so the health check
            # asked `crictl info`; here too the CRI answers its Status: the runtime is ready.
            assert DOUBLE_MARK in await hosts.run(host, "crictl --version")
            info = json.loads(await hosts.run(host, "crictl info"))
            conditions = {c["type"]: c["status"] for c in info["status"]["conditions"]}
            assert conditions["RuntimeReady"] is True

        # A real container from the imported image, on the default (overlayfs) snapshotter.
        name = f"kxms-{secrets.token_hex(3)}"
        out = await hosts.run(
            hosts[1], f"ctr -n k8s.io run --rm {IMAGE} {name} /bin/sh -c 'echo hello from $0'"
        )
        assert out.strip() == "hello from /bin/sh"

        second, events = await _run(cluster)
        assert second.succeeded, second.failures
        assert _changed(events) == []
        starts = {h.name: await _main_pid(hosts, h.name) for h in hosts}

        # A changed mirror list: hosts.toml rewritten, containerd restarted once per host.
        cluster = _cluster(
            hosts, tmp_path, releases, {"mirrors": ["https://mirror.test", "https://m2.test"]}
        )
        third, events = await _run(cluster)
        assert third.succeeded, third.failures
        changed = {node.rsplit("/", 2)[-2] for node, _ in _changed(events)}
        assert changed == {"service"}
        for host in hosts:
            details = [
                e.detail for e in events if e.kind == EventKind.CHANGED and e.host == host.name
            ]
            assert len(details) == 1
            assert "restarted" in details[0]
            assert "wrote /etc/containerd/certs.d/docker.io/hosts.toml" in details[0]
            assert await _main_pid(hosts, host.name) != starts[host.name]
            assert "m2.test" in await hosts.run(
                host, "cat /etc/containerd/certs.d/docker.io/hosts.toml"
            )
        fourth, events = await _run(cluster)
        assert fourth.succeeded
        assert _changed(events) == []

        # No mirrors any more: the hosts.toml kubexms wrote for docker.io goes, nothing restarts.
        cluster = _cluster(hosts, tmp_path, releases, {})
        fifth, events = await _run(cluster)
        assert fifth.succeeded, fifth.failures
        assert {node.rsplit("/", 2)[-2] for node, _ in _changed(events)} == {"stale-registry-hosts"}
        for host in hosts:
            code, _, _ = await hosts.exec(host, "test -e /etc/containerd/certs.d/docker.io")
            assert code != 0


async def _main_pid(hosts: HostLease, name: str) -> str:
    return await hosts.run(name, "systemctl show -p MainPID --value containerd")


async def test_a_distribution_containerd_is_refused_by_name(
    lease: LeaseHosts, tmp_path: Path, releases: RuntimeReleases
) -> None:
    hosts = lease(2, init="systemd")
    target = hosts[1]
    async with _cleaned(hosts):
        await hosts.run(
            target,
            "mkdir -p /lib/systemd/system && printf '[Service]\\nExecStart=/bin/true\\n' "
            "> /lib/systemd/system/containerd.service",
        )
        try:
            cluster = _cluster(hosts, tmp_path, releases, {})
            await _store_artifacts(cluster)
            result, _ = await _run(cluster)
            assert not result.succeeded
            (failure,) = [f for f in result.failures if f.host == target.name]
            assert "/lib/systemd/system/containerd.service" in failure.error
            assert "kubexms did not install" in failure.error
            assert (await hosts.exec(target, "test -e /usr/local/bin/containerd"))[0] != 0
        finally:
            await hosts.run(target, "rm -f /lib/systemd/system/containerd.service")
