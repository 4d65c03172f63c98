"""Distributing artifacts to fleet hosts: only where role and architecture need them, checked
on the host, skipped when already there.

Three hosts from the shared fleet: A is master and etcd, B and C are workers; C says
``arch: arm64`` in the cluster file while A's and B's architecture is detected from their facts.
Files come from a loopback server into the control machine's store first (the etcd tarball is
a real one built from Debian's binaries), then go to the hosts over SSH.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubexms.artifacts import (
    ArtifactStore,
    download_artifacts,
    host_architectures,
    parse_artifact_settings,
    parse_bom,
    plan_artifacts,
)
from kubexms.config import load_config
from kubexms.runtime import new_runtime
from kubexms.sandbox import Fleet
from kubexms.steps import distribute
from tests.fixtures.artifacts.etcd_release import (
    EtcdRelease,
    EtcdReleaseUnavailableError,
    build_etcd_release,
)
from tests.fixtures.artifacts.server import ArtifactServer, artifact_server
from tests.leasing import LeaseHosts

TEST_BOM = """
schema: 1
sources: {}
releases:
  "1.31": {node-tool: v1.0.0, cluster-manifest: v2.0.0}
components:
  etcd:
    versionFrom: etcd
    roles: [etcd]
    when: {etcd.type: kubexm}
    file: etcd-{version}-linux-{arch}.tar.gz
    url: BASE/etcd/{file}
  node-tool:
    roles: [master, worker]
    executable: true
    file: node-tool-{arch}
    url: BASE/tools/{version}/{file}
  cluster-manifest:
    roles: [master]
    perArch: false
    file: manifest-{version}.yaml
    url: BASE/manifests/{file}
"""


@pytest.fixture(scope="module")
def etcd_release(tmp_path_factory: pytest.TempPathFactory) -> EtcdRelease:
    try:
        return build_etcd_release(tmp_path_factory.mktemp("etcd-release"))
    except EtcdReleaseUnavailableError as error:
        pytest.fail(f"cannot build the etcd release tarball: {error}", pytrace=False)


@pytest.fixture
def server() -> Iterator[ArtifactServer]:
    with artifact_server() as running:
        yield running


def _cluster_file(fleet: Fleet, directory: Path, names: list[str]) -> Path:
    document: dict[str, Any] = yaml.safe_load(fleet.cluster_file.read_text())
    hosts = [dict(h) for h in document["spec"]["hosts"] if h["name"] in names]
    assert [h["name"] for h in hosts] == names
    hosts[2]["arch"] = "arm64"
    document["spec"]["hosts"] = hosts
    document["spec"]["roleGroups"] = {
        "master": [names[0]],
        "etcd": [names[0]],
        "worker": names[1:],
    }
    document["spec"].setdefault("global", {})["workDir"] = str(directory / "work")
    document["spec"]["etcd"] = {"version": "v3.4.23"}
    path = directory / "cluster.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


async def _files_on(fleet: Fleet, name: str, directory: str) -> dict[str, str]:
    code, out, err = await fleet.host_exec(
        name, f"[ -d {directory} ] && find {directory} -type f -exec sha256sum {{}} + || true"
    )
    assert code == 0, err
    found: dict[str, str] = {}
    for line in out.splitlines():
        digest, path = line.split(maxsplit=1)
        found[path.removeprefix(directory + "/")] = digest
    return found


async def test_each_host_gets_what_it_needs_once(
    lease: LeaseHosts, tmp_path: Path, server: ArtifactServer, etcd_release: EtcdRelease
) -> None:
    leased = lease(3)
    fleet, names = leased.fleet, leased.names
    a, b, c = names
    remote_dir = f"/opt/kxms-artifacts-test-{secrets.token_hex(4)}"
    cluster = load_config(_cluster_file(fleet, tmp_path, names))

    bodies = {
        "node-tool-amd64": b"#!/bin/sh\necho amd64 tool\n",
        "node-tool-arm64": b"#!/bin/sh\necho arm64 tool\n",
        "manifest-v2.0.0.yaml": b"apiVersion: v1\nkind: ConfigMap\n",
    }
    server.publish(f"etcd/{etcd_release.file}", etcd_release.path.read_bytes())
    for arch in ("amd64", "arm64"):
        server.publish(f"tools/v1.0.0/node-tool-{arch}", bodies[f"node-tool-{arch}"])
    server.publish("manifests/manifest-v2.0.0.yaml", bodies["manifest-v2.0.0.yaml"])

    def digest(name: str) -> str:
        return hashlib.sha256(bodies[name]).hexdigest()

    bom = parse_bom(TEST_BOM.replace("BASE", server.base_url), "test bom")
    settings = parse_artifact_settings(
        {
            "remoteDir": remote_dir,
            "overrides": {
                "etcd": {"sha256": {"amd64": etcd_release.sha256}},
                "node-tool": {
                    "sha256": {
                        "amd64": digest("node-tool-amd64"),
                        "arm64": digest("node-tool-arm64"),
                    }
                },
                "cluster-manifest": {"sha256": {"noarch": digest("manifest-v2.0.0.yaml")}},
            },
        }
    )

    arches = await host_architectures(cluster)  # A and B from their facts, C from arch:
    assert arches == {a: ("amd64",), b: ("amd64",), c: ("arm64",)}
    plan = plan_artifacts(cluster, arches, bom=bom, settings=settings)
    assert all(artifact.url.startswith(server.base_url) for artifact in plan.artifacts)
    store = ArtifactStore.for_cluster(cluster)
    await download_artifacts(plan, store, settings)

    try:
        async with await new_runtime(cluster) as runtime:
            first = await distribute(
                runtime, plan, store, remote_dir=remote_dir, upload_concurrency=2
            )
            uploaded = {(p.host, p.component, p.arch) for p in first if p.uploaded}
            assert uploaded == {
                (a, "etcd", "amd64"),
                (a, "node-tool", "amd64"),
                (a, "cluster-manifest", "noarch"),
                (b, "node-tool", "amd64"),
                (c, "node-tool", "arm64"),
            }
            assert len(first) == len(uploaded)

            etcd_remote = f"etcd/v3.4.23/{etcd_release.file}"
            assert await _files_on(fleet, a, remote_dir) == {
                etcd_remote: etcd_release.sha256,
                "node-tool/v1.0.0/node-tool-amd64": digest("node-tool-amd64"),
                "cluster-manifest/v2.0.0/manifest-v2.0.0.yaml": digest("manifest-v2.0.0.yaml"),
            }
            assert await _files_on(fleet, b, remote_dir) == {
                "node-tool/v1.0.0/node-tool-amd64": digest("node-tool-amd64"),
            }
            assert await _files_on(fleet, c, remote_dir) == {
                "node-tool/v1.0.0/node-tool-arm64": digest("node-tool-arm64"),
            }
            code, mode, _ = await fleet.host_exec(
                b, f"stat -c %a {remote_dir}/node-tool/v1.0.0/node-tool-amd64"
            )
            assert (code, mode.strip()) == (0, "755")

            second = await distribute(runtime, plan, store, remote_dir=remote_dir)
            assert [p for p in second if p.uploaded] == []
            assert len(second) == len(first)

            # A file changed on a host is noticed by its checksum and replaced, alone.
            code, _, err = await fleet.host_exec(
                b, f"echo tampered >> {remote_dir}/node-tool/v1.0.0/node-tool-amd64"
            )
            assert code == 0, err
            third = await distribute(runtime, plan, store, remote_dir=remote_dir)
            assert {(p.host, p.component) for p in third if p.uploaded} == {(b, "node-tool")}
            assert (await _files_on(fleet, b, remote_dir))[
                "node-tool/v1.0.0/node-tool-amd64"
            ] == digest("node-tool-amd64")
    finally:
        for name in names:
            await fleet.host_exec(name, f"rm -rf {remote_dir}")
