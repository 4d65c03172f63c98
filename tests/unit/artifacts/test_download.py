"""download_artifacts against a loopback server: verified, resumable, atomic, skips what is there.

The etcd served here is a real release tarball built from Debian's etcd binaries; its sha256 is
computed by the fixture and given as a cluster.yaml override, never pinned as if official.
"""

from __future__ import annotations

import hashlib
import io
import socket
import tarfile
from pathlib import Path
from typing import Any

import pytest
import structlog
from rich.console import Console
from rich.progress import Progress

from kubexms.artifacts import (
    OVERRIDE_SOURCE,
    ArtifactPlan,
    ArtifactSettings,
    ArtifactStore,
    ChecksumMismatchError,
    ChecksumUnavailableError,
    DownloadError,
    DownloadFailedError,
    download_artifacts,
    parse_artifact_settings,
    part_path,
    plan_artifacts,
    sha256_of,
)
from kubexms.config import Cluster
from kubexms.engine import RetryPolicy
from tests.fixtures.artifacts.etcd_release import EtcdRelease
from tests.fixtures.artifacts.server import ArtifactServer

ETCD_PATH = "etcd-io/etcd/releases/download/{version}/{file}"


def _etcd_settings(
    server: ArtifactServer, release: EtcdRelease, sha256: str | None = None, **extra: Any
) -> ArtifactSettings:
    return parse_artifact_settings(
        {
            "overrides": {
                "etcd": {
                    "version": release.version,
                    "url": server.url(ETCD_PATH),
                    "sha256": {"amd64": sha256 or release.sha256},
                }
            },
            **extra,
        }
    )


def _served_path(release: EtcdRelease) -> str:
    return ETCD_PATH.format(version=release.version, file=release.file)


def _etcd_plan(cluster: Cluster, settings: ArtifactSettings) -> ArtifactPlan:
    return plan_artifacts(cluster, {"n1": ("amd64",)}, settings=settings).select(["etcd"])


async def test_downloads_the_etcd_release_into_the_layout(
    server: ArtifactServer, etcd_release: EtcdRelease, one_node: Cluster
) -> None:
    server.publish(_served_path(etcd_release), etcd_release.path.read_bytes())
    settings = _etcd_settings(server, etcd_release)
    store = ArtifactStore.for_cluster(one_node)

    (result,) = await download_artifacts(_etcd_plan(one_node, settings), store, settings)

    expected = store.root / "etcd" / etcd_release.version / "amd64" / etcd_release.file
    assert result.path == expected
    assert result.fetched
    assert sha256_of(expected) == etcd_release.sha256
    assert expected.stat().st_mode & 0o777 == 0o644
    assert not part_path(expected).exists()
    with tarfile.open(expected) as archive:
        names = archive.getnames()
    assert set(etcd_release.members) <= set(names)
    entry = store.manifest().entry(("etcd", etcd_release.version, "amd64"))
    assert entry is not None
    assert entry.sha256 == etcd_release.sha256
    assert entry.checksum_source == OVERRIDE_SOURCE
    assert entry.size == expected.stat().st_size
    assert store.manifest().arches == ["amd64"]


async def test_a_present_valid_file_is_not_fetched_again(
    server: ArtifactServer, etcd_release: EtcdRelease, one_node: Cluster
) -> None:
    path = _served_path(etcd_release)
    server.publish(path, etcd_release.path.read_bytes())
    settings = _etcd_settings(server, etcd_release)
    store = ArtifactStore.for_cluster(one_node)
    plan = _etcd_plan(one_node, settings)
    await download_artifacts(plan, store, settings)
    assert len(server.requests_for(path)) == 1

    (again,) = await download_artifacts(plan, store, settings)

    assert not again.fetched
    assert len(server.requests_for(path)) == 1

    # A damaged copy is not "present": it is replaced.
    with again.path.open("r+b") as handle:
        handle.write(b"XX")
    (repaired,) = await download_artifacts(plan, store, settings)
    assert repaired.fetched
    assert sha256_of(repaired.path) == etcd_release.sha256


async def test_a_checksum_mismatch_is_refused_and_nothing_is_kept(
    server: ArtifactServer, etcd_release: EtcdRelease, one_node: Cluster
) -> None:
    server.publish(_served_path(etcd_release), etcd_release.path.read_bytes())
    wrong = hashlib.sha256(b"not etcd").hexdigest()
    settings = _etcd_settings(server, etcd_release, sha256=wrong)
    store = ArtifactStore.for_cluster(one_node)

    with pytest.raises(ChecksumMismatchError) as caught:
        await download_artifacts(
            _etcd_plan(one_node, settings),
            store,
            settings,
            retry=RetryPolicy(retries=2, base_delay=0.0),
        )

    message = str(caught.value)
    assert server.url(_served_path(etcd_release)) in message
    assert f"expected {wrong}" in message
    assert f"sha256 is {etcd_release.sha256}" in message
    dest = store.root / "etcd" / etcd_release.version / "amd64" / etcd_release.file
    assert not dest.exists()
    assert not part_path(dest).exists()
    assert store.manifest().artifacts == []
    # A mismatch is not a network error: it is not retried.
    assert len(server.requests_for(_served_path(etcd_release))) == 1


async def test_a_cut_download_resumes_with_a_range_request(
    server: ArtifactServer, etcd_release: EtcdRelease, one_node: Cluster
) -> None:
    path = _served_path(etcd_release)
    data = etcd_release.path.read_bytes()
    half = len(data) // 2
    server.publish(path, data)
    server.cut(path, after=half)
    settings = _etcd_settings(server, etcd_release)
    store = ArtifactStore.for_cluster(one_node)
    plan = _etcd_plan(one_node, settings)
    dest = store.root / "etcd" / etcd_release.version / "amd64" / etcd_release.file

    with pytest.raises(DownloadError) as caught:
        await download_artifacts(
            plan, store, settings, retry=RetryPolicy(retries=0, base_delay=0.0)
        )
    assert "connection was lost after" in str(caught.value)
    assert server.url(path) in str(caught.value)
    assert not dest.exists()
    assert part_path(dest).stat().st_size == half

    (result,) = await download_artifacts(
        plan, store, settings, retry=RetryPolicy(retries=0, base_delay=0.0)
    )

    assert result.fetched
    assert sha256_of(dest) == etcd_release.sha256
    first, second = server.requests_for(path)
    assert first.range is None
    assert second.range == f"bytes={half}-"
    assert not part_path(dest).exists()


async def test_retries_resume_within_one_call(
    server: ArtifactServer, etcd_release: EtcdRelease, one_node: Cluster
) -> None:
    path = _served_path(etcd_release)
    server.publish(path, etcd_release.path.read_bytes())
    server.cut(path, after=1 << 20, times=2)
    settings = _etcd_settings(server, etcd_release)
    store = ArtifactStore.for_cluster(one_node)

    (result,) = await download_artifacts(
        _etcd_plan(one_node, settings),
        store,
        settings,
        retry=RetryPolicy(retries=2, base_delay=0.0),
    )

    assert sha256_of(result.path) == etcd_release.sha256
    ranges = [request.range for request in server.requests_for(path)]
    assert ranges == [None, "bytes=1048576-", "bytes=1048576-"]


async def test_a_server_without_range_support_restarts_cleanly(
    server: ArtifactServer, etcd_release: EtcdRelease, one_node: Cluster
) -> None:
    path = _served_path(etcd_release)
    server.publish(path, etcd_release.path.read_bytes())
    server.cut(path, after=4096)
    server.ranges_supported = False
    settings = _etcd_settings(server, etcd_release)
    store = ArtifactStore.for_cluster(one_node)

    (result,) = await download_artifacts(
        _etcd_plan(one_node, settings),
        store,
        settings,
        retry=RetryPolicy(retries=1, base_delay=0.0),
    )

    assert sha256_of(result.path) == etcd_release.sha256


def _apiserver_settings(server: ArtifactServer) -> ArtifactSettings:
    base = "https://dl.k8s.io/release/"
    return ArtifactSettings(url_rewrites={base: server.url("k8s/")})


async def test_an_unpinned_artifact_uses_the_published_checksum_then_the_manifest(
    server: ArtifactServer, tmp_path: Path
) -> None:
    from tests.unit.artifacts.conftest import host, make_cluster

    cluster = make_cluster(
        [host("n1", 1)],
        {"master": ["n1"], "etcd": ["n1"], "worker": ["n1"]},
        work_dir=tmp_path / "work",
        kubernetes={"type": "kubexm"},
    )
    binary = b"\x7fELF pretend kube-apiserver\n" * 5000
    digest = hashlib.sha256(binary).hexdigest()
    server.publish("k8s/v1.31.4/bin/linux/amd64/kube-apiserver", binary)
    server.publish("k8s/v1.31.4/bin/linux/amd64/kube-apiserver.sha256", digest.encode())
    settings = _apiserver_settings(server)
    plan = plan_artifacts(cluster, {"n1": ("amd64",)}, settings=settings).select(["kube-apiserver"])
    store = ArtifactStore.for_cluster(cluster)

    (result,) = await download_artifacts(plan, store, settings)

    assert result.sha256 == digest
    assert result.path.stat().st_mode & 0o777 == 0o755
    entry = store.manifest().entry(("kube-apiserver", "v1.31.4", "amd64"))
    assert entry is not None
    assert entry.checksum_source == "published: " + server.url(
        "k8s/v1.31.4/bin/linux/amd64/kube-apiserver.sha256"
    )
    # The digest is now pinned in the manifest: a re-run needs no checksum file, no network.
    before = len(server.requests)
    (again,) = await download_artifacts(plan, store, settings)
    assert not again.fetched
    assert len(server.requests) == before


async def test_a_published_checksum_that_does_not_match_is_refused(
    server: ArtifactServer, tmp_path: Path
) -> None:
    from tests.unit.artifacts.conftest import host, make_cluster

    cluster = make_cluster(
        [host("n1", 1)],
        {"master": ["n1"], "etcd": ["n1"]},
        work_dir=tmp_path / "work",
        kubernetes={"type": "kubexm"},
    )
    server.publish("k8s/v1.31.4/bin/linux/amd64/kube-scheduler", b"tampered")
    server.publish(
        "k8s/v1.31.4/bin/linux/amd64/kube-scheduler.sha256",
        hashlib.sha256(b"original").hexdigest().encode(),
    )
    settings = _apiserver_settings(server)
    plan = plan_artifacts(cluster, {"n1": ("amd64",)}, settings=settings).select(["kube-scheduler"])
    with pytest.raises(ChecksumMismatchError):
        await download_artifacts(plan, ArtifactStore.for_cluster(cluster), settings)
    server.publish("k8s/v1.31.4/bin/linux/amd64/kube-scheduler.sha256", b"<html>oops</html>")
    with pytest.raises(ChecksumUnavailableError, match="not a sha256 checksum file"):
        await download_artifacts(plan, ArtifactStore.for_cluster(cluster), settings)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_no_network_names_the_url_and_what_to_do(
    etcd_release: EtcdRelease, one_node: Cluster
) -> None:
    port = _closed_port()
    url = f"http://127.0.0.1:{port}/{ETCD_PATH}"
    settings = parse_artifact_settings(
        {
            "overrides": {
                "etcd": {
                    "version": etcd_release.version,
                    "url": url,
                    "sha256": {"amd64": etcd_release.sha256},
                }
            }
        }
    )
    with pytest.raises(DownloadError) as caught:
        await download_artifacts(
            _etcd_plan(one_node, settings),
            ArtifactStore.for_cluster(one_node),
            settings,
            retry=RetryPolicy(retries=0, base_delay=0.0),
        )
    message = str(caught.value)
    assert f"http://127.0.0.1:{port}/etcd-io/etcd/releases/download/" in message
    assert "connection was refused" in message
    assert "spec.artifacts.mirror" in message
    assert "kubexms artifact import" in message


async def test_http_errors_are_named(
    server: ArtifactServer, etcd_release: EtcdRelease, one_node: Cluster
) -> None:
    settings = _etcd_settings(server, etcd_release)  # nothing published: 404
    with pytest.raises(DownloadError, match="HTTP 404"):
        await download_artifacts(
            _etcd_plan(one_node, settings),
            ArtifactStore.for_cluster(one_node),
            settings,
            retry=RetryPolicy(retries=0, base_delay=0.0),
        )


async def test_a_file_mirror_in_the_store_layout_is_used_instead_of_upstream(
    etcd_release: EtcdRelease, one_node: Cluster, tmp_path: Path, server: ArtifactServer
) -> None:
    mirror = tmp_path / "mirror"
    copy = mirror / "etcd" / etcd_release.version / "amd64" / etcd_release.file
    copy.parent.mkdir(parents=True)
    copy.write_bytes(etcd_release.path.read_bytes())
    settings = _etcd_settings(server, etcd_release, mirror=mirror.as_uri())
    store = ArtifactStore.for_cluster(one_node)

    (result,) = await download_artifacts(_etcd_plan(one_node, settings), store, settings)

    assert sha256_of(result.path) == etcd_release.sha256
    assert server.requests == []  # upstream never asked
    missing = _etcd_settings(server, etcd_release, mirror=(tmp_path / "empty").as_uri())
    with pytest.raises(DownloadError, match="no such file in the mirror"):
        await download_artifacts(
            _etcd_plan(one_node, missing),
            ArtifactStore(tmp_path / "s2"),
            missing,
            retry=RetryPolicy(retries=0, base_delay=0.0),
        )


async def test_parallel_downloads_report_progress_and_every_failure(
    server: ArtifactServer, tmp_path: Path
) -> None:
    from tests.unit.artifacts.conftest import host, make_cluster

    cluster = make_cluster(
        [host("n1", 1), host("n2", 2, "arm64")],
        {"master": ["n1", "n2"], "etcd": ["n1"]},
        work_dir=tmp_path / "work",
        kubernetes={"type": "kubexm"},
        controlPlaneEndpoint={"domain": "lb.kubexms.local"},
    )
    settings = _apiserver_settings(server)
    names = ["kube-apiserver", "kube-controller-manager", "kube-scheduler"]
    for name in names:
        for arch in ("amd64", "arm64"):
            body = f"{name} {arch}\n".encode() * 1000
            path = f"k8s/v1.31.4/bin/linux/{arch}/{name}"
            server.publish(path, body)
            server.publish(path + ".sha256", hashlib.sha256(body).hexdigest().encode())
    plan = plan_artifacts(cluster, {"n1": ("amd64",), "n2": ("arm64",)}, settings=settings).select(
        names
    )
    output = io.StringIO()

    def progress() -> Progress:
        return Progress(console=Console(file=output, force_terminal=True, width=120))

    results = await download_artifacts(
        plan, ArtifactStore.for_cluster(cluster), settings, progress=progress
    )
    assert len(results) == 6
    assert "kube-scheduler v1.31.4 (arm64)" in output.getvalue()

    server.files.pop("/k8s/v1.31.4/bin/linux/arm64/kube-proxy", None)
    plan2 = plan_artifacts(cluster, {"n1": ("amd64",), "n2": ("arm64",)}, settings=settings)
    broken = plan2.select(["kube-proxy", "kube-apiserver"])
    with pytest.raises(DownloadFailedError) as caught:
        await download_artifacts(
            broken,
            ArtifactStore(tmp_path / "s3"),
            settings,
            retry=RetryPolicy(retries=0, base_delay=0.0),
        )
    assert len(caught.value.errors) == 2  # kube-proxy for both arches: nothing published
    # What succeeded was kept and recorded.
    assert {e.component for e in ArtifactStore(tmp_path / "s3").manifest().artifacts} == {
        "kube-apiserver"
    }


async def test_downloads_back_off_as_the_engine_retry_policy_says(
    server: ArtifactServer, etcd_release: EtcdRelease, one_node: Cluster
) -> None:
    path = _served_path(etcd_release)
    server.publish(path, etcd_release.path.read_bytes())
    server.cut(path, after=4096, times=1)
    settings = _etcd_settings(server, etcd_release)
    policy = RetryPolicy(retries=1, base_delay=0.2, max_delay=0.2)
    with structlog.testing.capture_logs() as logs:
        (result,) = await download_artifacts(
            _etcd_plan(one_node, settings),
            ArtifactStore.for_cluster(one_node),
            settings,
            retry=policy,
        )
    assert result.fetched
    (retried,) = [entry for entry in logs if entry["event"] == "artifacts.retry"]
    assert retried["attempt"] == 1
    assert 0.1 <= retried["delay"] <= 0.2  # the policy's jittered backoff, not a private one
