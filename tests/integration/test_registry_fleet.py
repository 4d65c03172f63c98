"""The registry phase on a real systemd host: Debian's distribution registry 2.8 under TLS from
the registry CA kubexms makes, htpasswd logins; images pushed by kubexms; another node pulls
through containerd's CRI (tests/cri_client.py, as the kubelet asks: no login in the request)
with the login and the CA kubexms configured; a wrong password or a missing CA is refused by
name. Without a private registry, an image `artifact images pull` copied from it into the store
is imported by the container-runtime phase."""

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
from kubexms.engine import Engine, EventBus, EventKind, Module, Pipeline, RunResult
from kubexms.engine._events import Event
from kubexms.registry import RegistryModule
from kubexms.runtime import new_runtime
from kubexms.sandbox import FleetHost
from tests import cri_client
from tests.fixtures.artifacts.busybox_image import BuiltImage, build_busybox_image
from tests.fixtures.artifacts.runtime_release import RuntimeReleases
from tests.integration.test_containerd_fleet import CLEANUP, runtime_spec
from tests.integration.test_containerd_fleet import releases as releases
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
        spec = runtime_spec(document, hosts, directory, releases)
        spec["roleGroups"]["registry"] = hosts.names[:1]
        spec["registry"] = {
            "type": "registry",
            "privateRegistry": private,
            "auths": {private: {"username": "kubexms", "password": password}},
        }

    return hosts.cluster_file(directory, edit=edit), private


async def _cri(hosts: HostLease, host: FleetHost, *args: str) -> str:
    """tests/cri_client.py run inside ``host``; its output."""
    command, program = cri_client.host_command(*args)
    code, out, err = await hosts.exec(host, command, stdin=program)
    assert code == 0, f"CRI client {args} on {host.name} exited {code}: {err}"
    return out.strip()


async def _cri_error(hosts: HostLease, host: FleetHost, *args: str) -> str:
    """The CRI client's error (it must fail) inside ``host``."""
    command, program = cri_client.host_command(*args)
    code, out, err = await hosts.exec(host, command, stdin=program)
    assert code == 1, f"CRI client {args} on {host.name} should fail: exit {code} {out} {err}"
    return err.strip()


async def _run(
    cluster: Cluster, *, push: bool = True, registry: bool = True
) -> tuple[RunResult, list[Event]]:
    events: list[Event] = []
    modules: list[Module] = [ContainerRuntimeModule()]
    if registry:
        modules.append(RegistryModule(push=push))
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

        # The registry phase pushed the image; the node pulls it through containerd's CRI
        # as the kubelet does: no login in the request, so containerd must use the login
        # and the registry CA kubexms configured.
        mirrored = f"{private}/tools/busybox:1.35"
        assert mirrored not in await hosts.run(node, "ctr -n k8s.io images ls -q")
        image_id = await _cri(hosts, node, "pull", mirrored)
        assert image_id.startswith("sha256:")
        listed = await hosts.run(node, "ctr -n k8s.io images ls")
        assert any(line.split()[:3:2] == [mirrored, built.digest] for line in listed.splitlines())

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

        # A wrong password configured for the nodes only (the registry keeps the right one):
        # the CRI's pull is refused, naming the registry.
        await hosts.run(node, f"ctr -n k8s.io images rm {mirrored}")
        wrong_nodes = load_config(wrong)
        changed, _ = await _run(wrong_nodes, registry=False)
        assert changed.succeeded, changed.failures
        refused = await _cri_error(hosts, node, "pull", mirrored)
        assert private in refused
        assert "401" in refused or "unauthorized" in refused.lower()

        # The registry's CA missing (containerd reads certs.d at every pull): its file gone
        # is named, and without the CA in hosts.toml the registry's certificate is untrusted.
        certs = f"/etc/containerd/certs.d/{private}"
        await hosts.run(node, f"mv {certs}/ca.crt /root/ca.crt")
        missing = await _cri_error(hosts, node, "pull", mirrored)
        assert f"open {certs}/ca.crt: no such file" in missing
        await hosts.run(node, f"sed -i '/^  ca = /d' {certs}/hosts.toml")
        untrusted = await _cri_error(hosts, node, "pull", mirrored)
        assert private in untrusted
        assert "certificate signed by unknown authority" in untrusted

        await _import_without_a_private_registry(hosts, tmp_path / "offline", releases, built)
    finally:
        for host in hosts:
            await hosts.exec(host, CLEANUP)
        await hosts.exec(registry_host, REGISTRY_CLEANUP)


def _offline_cluster_file(
    hosts: HostLease, directory: Path, releases: RuntimeReleases, source: str
) -> Path:
    """The same nodes in a cluster without a private registry, whose images come from the
    store; ``source`` (this fleet's registry) is where `artifact images pull` finds them, with
    the login and without TLS verification (its CA is not one this machine trusts)."""

    def edit(document: dict[str, Any]) -> None:
        runtime_spec(document, hosts, directory, releases)["registry"] = {
            "insecureRegistries": [source],
            "auths": {source: {"username": "kubexms", "password": PASSWORD}},
        }

    directory.mkdir()
    return hosts.cluster_file(directory, edit=edit)


def _imports(events: list[Event], host: str) -> list[str]:
    return [
        e.detail
        for e in events
        if e.kind == EventKind.CHANGED and e.host == host and (e.node or "").endswith("/images")
    ]


async def _import_without_a_private_registry(
    hosts: HostLease, directory: Path, releases: RuntimeReleases, built: BuiltImage
) -> None:
    """`artifact images pull` (real skopeo) copies the image from the fleet's registry into
    the store of a cluster without a private registry; the container-runtime phase imports
    it into containerd's k8s.io namespace, skips it when present, and refuses an archive that
    differs from what was pulled."""
    node = hosts[1]
    private = f"{hosts[0].address}:{PORT}"
    image = f"{private}/tools/busybox:1.35"
    path = _offline_cluster_file(hosts, directory, releases, private)
    pull = ["artifact", "images", "pull", "-f", str(path), "--only-extra", "--image", image]
    pulled = await asyncio.to_thread(CliRunner().invoke, app, pull)
    assert pulled.exit_code == 0, pulled.output
    assert f"pulled  {image}  {built.digest}" in pulled.output

    cluster = load_config(path)
    store = ArtifactStore.for_cluster(cluster)
    plan = plan_artifacts(cluster, await host_architectures(cluster))
    wanted = ["containerd", "runc", "cni-plugins", "crictl"]
    await download_artifacts(plan.select(wanted), store, artifact_settings(cluster))
    await hosts.exec(node, f"ctr -n k8s.io images rm {image}")
    imported, events = await _run(cluster, registry=False)
    assert imported.succeeded, imported.failures
    assert _imports(events, node.name) == [f"imported {image}"]
    listed = await hosts.run(node, "ctr -n k8s.io images ls")
    assert any(line.split()[:3:2] == [image, built.digest] for line in listed.splitlines())

    again, events = await _run(cluster, registry=False)
    assert again.succeeded, again.failures
    assert [e for e in events if e.kind == EventKind.CHANGED] == []

    # The archive changed in the store after its pull: refused before anything is imported.
    entry = ImageStore(store).entry(ImageRef.parse(image))
    assert entry is not None
    with ImageStore(store).path_of(entry).open("ab") as archive:
        archive.write(b"\0" * 512)
    await hosts.run(node, f"ctr -n k8s.io images rm {image}")
    tampered, _ = await _run(cluster, registry=False)
    assert not tampered.succeeded
    (failure,) = [f for f in tampered.failures if f.host == node.name]
    assert "differs from what was pulled" in failure.error
    assert image not in await hosts.run(node, "ctr -n k8s.io images ls -q")


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

        # The CRI pulls by the registry's name, with the login and CA configured for it.
        await _cri(hosts, node, "pull", f"{private}/tools/busybox:1.35")
        assert built.digest in await hosts.run(node, "ctr -n k8s.io images ls")
    finally:
        for host in hosts:
            await hosts.exec(host, CLEANUP)
            await hosts.exec(host, "sed -i '/kubexms-registry/,/kubexms-registry/d' /etc/hosts")
        await hosts.exec(registry_host, REGISTRY_CLEANUP)
