"""`kubexms artifact images pull|push` with real skopeo against a real distribution registry
(Debian's docker-registry 2.8, from the release fixture) on loopback."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from kubexms.artifacts import ArtifactStore, ImageRef, ImageStore
from kubexms.cli import app
from tests.fixtures.artifacts.busybox_image import BuiltImage, build_busybox_image
from tests.fixtures.artifacts.runtime_release import (
    RuntimeReleases,
    RuntimeReleaseUnavailableError,
    build_runtime_releases,
)
from tests.unit.config.sample import base

pytestmark = pytest.mark.skipif(shutil.which("skopeo") is None, reason="needs skopeo")


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> RuntimeReleases:
    try:
        return build_runtime_releases(tmp_path_factory.mktemp("runtime-release"))
    except RuntimeReleaseUnavailableError as error:
        pytest.fail(f"cannot build the runtime release artifacts: {error}", pytrace=False)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def registry(tmp_path: Path, releases: RuntimeReleases) -> Iterator[str]:
    """A plain-HTTP distribution registry on 127.0.0.1; its host:port."""
    with tarfile.open(releases.registry.path) as archive:
        archive.extract("registry", tmp_path, filter="data")
    port = _free_port()
    config = tmp_path / "registry.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "version": 0.1,
                "storage": {"filesystem": {"rootdirectory": str(tmp_path / "data")}},
                "http": {"addr": f"127.0.0.1:{port}"},
            }
        )
    )
    process = subprocess.Popen(
        [str(tmp_path / "registry"), "serve", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the registry did not start"
                time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def _cluster_file(directory: Path, registry: dict[str, Any]) -> Path:
    document = base()
    document["spec"].setdefault("global", {})["workDir"] = str(directory / "work")
    document["spec"]["registry"] = registry
    path = directory / "cluster.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def _inspect_digest(reference: str) -> str:
    out = subprocess.run(
        ["skopeo", "inspect", "--tls-verify=false", f"docker://{reference}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return str(json.loads(out)["Digest"])


def test_pull_into_the_store_then_push_keeps_the_digest(tmp_path: Path, registry: str) -> None:
    upstream = f"{registry}/tools/busybox:1.35"
    built: BuiltImage = build_busybox_image(tmp_path, upstream)
    subprocess.run(
        [
            "skopeo",
            "copy",
            "--preserve-digests",
            "--dest-tls-verify=false",
            f"oci-archive:{built.path}",
            f"docker://{upstream}",
        ],
        check=True,
        capture_output=True,
    )
    cluster = _cluster_file(
        tmp_path, {"privateRegistry": f"{registry}/mirror", "insecureRegistries": [registry]}
    )
    runner = CliRunner()
    pull = ["artifact", "images", "pull", "-f", str(cluster), "--only-extra"]
    first = runner.invoke(app, [*pull, "--image", upstream])
    assert first.exit_code == 0, first.output
    assert f"pulled  {upstream}  {built.digest}" in first.output
    store = ImageStore(ArtifactStore(tmp_path / "work" / "artifacts"))
    entry = store.entry(ImageRef.parse(upstream))
    assert entry is not None
    assert entry.digest == built.digest
    assert store.is_valid(entry)
    # containerd's import names the image after this annotation (a full reference is kept).
    with tarfile.open(store.path_of(entry)) as archive:
        member = archive.extractfile("index.json")
        assert member is not None
        index = json.load(member)
    assert index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == upstream

    again = runner.invoke(app, [*pull, "--image", upstream])
    assert again.exit_code == 0, again.output
    assert f"present  {upstream}  {built.digest}" in again.output

    pushed = runner.invoke(app, ["artifact", "images", "push", "-f", str(cluster)])
    assert pushed.exit_code == 0, pushed.output
    assert _inspect_digest(f"{registry}/mirror/tools/busybox:1.35") == built.digest


def test_a_tampered_archive_is_not_pushed(tmp_path: Path, registry: str) -> None:
    ref = ImageRef.parse(f"{registry}/tools/busybox:1.35")
    built = build_busybox_image(tmp_path, ref.name)
    store = ImageStore(ArtifactStore(tmp_path / "work" / "artifacts"))
    entry = store.add(ref, built.path, ["worker"])
    with store.path_of(entry).open("ab") as archive:
        archive.write(b"\0" * 512)
    cluster = _cluster_file(
        tmp_path, {"privateRegistry": registry, "insecureRegistries": [registry]}
    )
    result = CliRunner().invoke(app, ["artifact", "images", "push", "-f", str(cluster)])
    assert result.exit_code == 1
    assert "differs from what was pulled" in result.output
