"""The registry phase on a real systemd host: Debian's distribution registry 2.8 under TLS from
the registry CA kubexms makes, htpasswd logins; images pushed by kubexms; another node pulls
through containerd trusting that CA; a wrong password or a missing CA is refused by name."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from kubexms.artifacts import (
    ArtifactStore,
    ImageRef,
    ImageStore,
    artifact_settings,
    download_artifacts,
    host_architectures,
    plan_artifacts,
)
from kubexms.cli import app
from kubexms.config import Cluster, load_config
from kubexms.containerd import ContainerRuntimeModule
from kubexms.engine import Engine, EventBus, EventKind, Pipeline, RunResult
from kubexms.engine._events import Event
from kubexms.registry import RegistryModule
from kubexms.runtime import new_runtime
from tests.fixtures.artifacts.busybox_image import BuiltImage, build_busybox_image
from tests.fixtures.artifacts.runtime_release import (
    RuntimeReleases,
    RuntimeReleaseUnavailableError,
    build_runtime_releases,
)
from tests.integration.test_containerd_fleet import CLEANUP
from tests.leasing import HostLease, LeaseHosts

pytestmark = pytest.mark.fleet

PORT = 5443
PASSWORD = "pull-and-push-7"
REGISTRY_CLEANUP = (
    "systemctl disable --now kubexms-registry >/dev/null 2>&1 || true; "
    "rm -rf /etc/systemd/system/kubexms-registry.service /etc/kubexms-registry "
    "/var/lib/kubexms-registry /usr/local/bin/registry "
    "/var/lib/kubexms/restart-pending/kubexms-registry.service; systemctl daemon-reload"
)


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> RuntimeReleases:
    try:
        return build_runtime_releases(tmp_path_factory.mktemp("runtime-release"))
    except RuntimeReleaseUnavailableError as error:
        pytest.fail(f"cannot build the runtime release artifacts: {error}", pytrace=False)


def _cluster_file(
    hosts: HostLease,
    directory: Path,
    releases: RuntimeReleases,
    password: str = PASSWORD,
    name: str | None = None,
) -> tuple[Path, str]:
    registry_host = hosts[0]
    private = f"{name or registry_host.address}:{PORT}"

    def edit(document: dict[str, Any]) -> None:
        names = hosts.names
        spec = document["spec"]
        spec["roleGroups"] = {
            "master": names[:1],
            "etcd": names[:1],
            "worker": names[1:],
            "registry": names[:1],
        }
        spec.setdefault("global", {})["workDir"] = str(directory / "work")
        spec.setdefault("kubernetes", {})["containerRuntime"] = {
            "version": releases.containerd.version
        }
        spec["artifacts"] = {"overrides": releases.overrides()}
        spec["registry"] = {
            "type": "registry",
            "privateRegistry": private,
            "auths": {private: {"username": "kubexms", "password": password}},
        }

    return hosts.cluster_file(directory, edit=edit), private


async def _run(cluster: Cluster, *, push: bool = True) -> tuple[RunResult, list[Event]]:
    events: list[Event] = []
    modules = [ContainerRuntimeModule(), RegistryModule(push=push)]
    graph = Pipeline("create-cluster", modules).plan(cluster)
    async with await new_runtime(cluster) as runtime:
        result = await Engine(runtime, events=EventBus(events.append)).run(graph)
    return result, events


async def test_registry_serves_pushed_images_to_nodes_over_tls_with_login(
    lease: LeaseHosts, tmp_path: Path, releases: RuntimeReleases
) -> None:
    hosts = lease(2, init="systemd")
    registry_host, node = hosts[0], hosts[1]
    try:
        path, private = _cluster_file(hosts, tmp_path, releases)
        cluster = load_config(path)
        plan = plan_artifacts(cluster, await host_architectures(cluster))
        store = ArtifactStore.for_cluster(cluster)
        await download_artifacts(
            plan.select(["containerd", "runc", "cni-plugins", "crictl", "registry"]),
            store,
            artifact_settings(cluster),
        )
        upstream = "registry.kubexms.test/tools/busybox:1.35"
        built: BuiltImage = build_busybox_image(tmp_path, upstream)
        ImageStore(store).add(ImageRef.parse(upstream), built.path, ["master", "worker"])

        first, _ = await _run(cluster)
        assert first.succeeded, first.failures
        mode = await hosts.run(registry_host, "stat -c %a /etc/kubexms-registry/htpasswd")
        assert mode == "600\n"
        ca = await hosts.run(node, f"cat /etc/containerd/certs.d/{private}/ca.crt")
        assert "BEGIN CERTIFICATE" in ca

        # The registry phase pushed the image; the node pulls it through containerd,
        # trusting the registry CA from certs.d, with the login.
        mirrored = f"{private}/tools/busybox:1.35"
        pull = "ctr -n k8s.io images pull --hosts-dir /etc/containerd/certs.d"
        await hosts.run(node, f"{pull} --user kubexms:{PASSWORD} {mirrored}")
        assert built.digest in await hosts.run(node, "ctr -n k8s.io images ls")

        # A wrong password, and a missing CA, are refused naming the registry.
        code, out, err = await hosts.exec(node, f"{pull} --user kubexms:wrong {mirrored}")
        assert code != 0
        assert private in out + err
        assert "401" in out + err or "unauthorized" in (out + err).lower()
        code, out, err = await hosts.exec(
            node, f"ctr -n k8s.io images pull --user kubexms:{PASSWORD} {mirrored}"
        )
        assert code != 0
        assert private in out + err
        assert "certificate" in (out + err).lower()

        # `artifact images push` with a wrong password names the registry.
        (tmp_path / "wrong").mkdir()
        (tmp_path / "wrong" / "work").symlink_to(tmp_path / "work")
        wrong, _ = _cluster_file(hosts, tmp_path / "wrong", releases, password="nope")
        push = ["artifact", "images", "push", "-f", str(wrong)]
        result = await asyncio.to_thread(CliRunner().invoke, app, push)
        assert result.exit_code == 1
        assert private in result.output

        second, events = await _run(cluster)
        assert second.succeeded, second.failures
        assert [e for e in events if e.kind == EventKind.CHANGED] == []
    finally:
        for host in hosts:
            await hosts.exec(host, CLEANUP)
        await hosts.exec(registry_host, REGISTRY_CLEANUP)


async def test_nodes_reach_the_registry_by_name_through_the_managed_hosts_block(
    lease: LeaseHosts, tmp_path: Path, releases: RuntimeReleases
) -> None:
    hosts = lease(2, init="systemd")
    registry_host, node = hosts[0], hosts[1]
    name = "registry.kubexms.test"
    try:
        path, private = _cluster_file(hosts, tmp_path, releases, name=name)
        cluster = load_config(path)
        plan = plan_artifacts(cluster, await host_architectures(cluster))
        store = ArtifactStore.for_cluster(cluster)
        wanted = ["containerd", "runc", "cni-plugins", "crictl", "registry"]
        await download_artifacts(plan.select(wanted), store, artifact_settings(cluster))
        # This machine cannot resolve the name: the phase runs without its push, and the
        # image goes in by the registry host's address (the certificate names both).
        result, _ = await _run(cluster, push=False)
        assert result.succeeded, result.failures
        for host in hosts:
            block = await hosts.run(host, "cat /etc/hosts")
            assert f"{registry_host.address} {name}" in " ".join(block.split())
        (tmp_path / "ip").mkdir()
        (tmp_path / "ip" / "work").symlink_to(tmp_path / "work")
        by_address, _ = _cluster_file(hosts, tmp_path / "ip", releases)
        upstream = "registry.kubexms.test/tools/busybox:1.35"
        built = build_busybox_image(tmp_path, upstream)
        ImageStore(store).add(ImageRef.parse(upstream), built.path, ["worker"])
        push = ["artifact", "images", "push", "-f", str(by_address)]
        pushed = await asyncio.to_thread(CliRunner().invoke, app, push)
        assert pushed.exit_code == 0, pushed.output

        pull = "ctr -n k8s.io images pull --hosts-dir /etc/containerd/certs.d"
        await hosts.run(node, f"{pull} --user kubexms:{PASSWORD} {private}/tools/busybox:1.35")
        assert built.digest in await hosts.run(node, "ctr -n k8s.io images ls")
    finally:
        for host in hosts:
            await hosts.exec(host, CLEANUP)
            await hosts.exec(host, "sed -i '/kubexms-registry/,/kubexms-registry/d' /etc/hosts")
        await hosts.exec(registry_host, REGISTRY_CLEANUP)
