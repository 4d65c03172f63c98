"""`kubexms artifact download | bundle | import | list` end to end on a loopback server."""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml
from typer.testing import CliRunner

from kubexms.cli._artifact import app
from tests.fixtures.artifacts.etcd_release import EtcdRelease
from tests.fixtures.artifacts.server import ArtifactServer
from tests.unit.artifacts.conftest import cluster_data, host

runner = CliRunner()


def _files(tmp_path: Path, server: ArtifactServer, release: EtcdRelease) -> tuple[Path, Path]:
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text(
        yaml.safe_dump(
            cluster_data(
                [host("n1", 1), host("n2", 2, None)],
                {"master": ["n1"], "etcd": ["n1"], "worker": ["n2"]},
                work_dir=tmp_path / "work",
            )
        )
    )
    server.publish(f"etcd/{release.file}", release.path.read_bytes())
    settings = tmp_path / "artifacts.yaml"
    settings.write_text(
        yaml.safe_dump(
            {
                "overrides": {
                    "etcd": {
                        "version": release.version,
                        "url": server.url("etcd/{file}"),
                        "sha256": {"amd64": release.sha256},
                    }
                }
            }
        )
    )
    return cluster, settings


def test_download_bundle_import(
    server: ArtifactServer, etcd_release: EtcdRelease, tmp_path: Path
) -> None:
    cluster, settings = _files(tmp_path, server, etcd_release)
    args = ["-f", str(cluster), "--settings", str(settings), "--only", "etcd"]

    # n2 has no arch: and is not reachable; --arch says what it is.
    result = runner.invoke(app, ["download", *args, "--arch", "amd64"])
    assert result.exit_code == 0, result.output
    assert "1 artifacts in" in result.output
    assert "(1 downloaded, 0 already present and valid)" in result.output
    stored = tmp_path / "work/artifacts/etcd" / etcd_release.version / "amd64" / etcd_release.file
    assert stored.is_file()

    again = runner.invoke(app, ["download", *args, "--arch", "amd64"])
    assert "(0 downloaded, 1 already present and valid)" in again.output

    bundle = tmp_path / "kubexms-artifacts.tar.gz"
    packed = runner.invoke(app, ["bundle", *args, "-o", str(bundle)])
    assert packed.exit_code == 0, packed.output
    assert "1 artifacts for amd64" in packed.output

    offline = tmp_path / "offline"
    imported = runner.invoke(app, ["import", str(bundle), "--dir", str(offline)])
    assert imported.exit_code == 0, imported.output
    assert "imported 1 verified artifacts" in imported.output
    copy = offline / "etcd" / etcd_release.version / "amd64" / etcd_release.file
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == etcd_release.sha256


def test_errors_are_sentences_not_tracebacks(
    server: ArtifactServer, etcd_release: EtcdRelease, tmp_path: Path
) -> None:
    cluster, settings = _files(tmp_path, server, etcd_release)
    data = yaml.safe_load(settings.read_text())
    data["overrides"]["etcd"]["sha256"]["amd64"] = "0" * 64
    settings.write_text(yaml.safe_dump(data))
    result = runner.invoke(
        app,
        [
            *("download", "-f", str(cluster), "--settings", str(settings)),
            *("--only", "etcd", "--arch", "amd64", "--retries", "0"),
        ],
    )
    assert result.exit_code == 1
    assert "error:" in result.output
    assert f"expected {'0' * 64}" in result.output
    assert "Traceback" not in result.output

    bad_arch = runner.invoke(app, ["download", "-f", str(cluster), "--arch", "sparc"])
    assert bad_arch.exit_code == 1
    assert "unknown architecture(s) sparc" in bad_arch.output

    no_file = runner.invoke(app, ["download"])
    assert no_file.exit_code == 1
    assert "-f cluster.yaml" in no_file.output

    unknown = runner.invoke(app, ["bundle", "-f", str(cluster), "-o", str(tmp_path / "b.tgz")])
    assert unknown.exit_code == 1
    assert "the architecture of n2 is unknown" in unknown.output

    nothing = runner.invoke(
        app, ["bundle", "-f", str(cluster), "--arch", "amd64", "-o", str(tmp_path / "b.tgz")]
    )
    assert nothing.exit_code == 1
    assert "run `kubexms artifact download" in nothing.output

    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"junk")
    refused = runner.invoke(app, ["import", str(junk), "--dir", str(tmp_path / "s")])
    assert refused.exit_code == 1
    assert "not a tar.gz archive" in refused.output


def test_list_shows_versions_and_checksum_sources(tmp_path: Path) -> None:
    cluster = tmp_path / "cluster.yaml"
    cluster.write_text(
        yaml.safe_dump(
            cluster_data(
                [host("n1", 1), host("n2", 2, "arm64")],
                {"master": ["n1"], "etcd": ["n1"], "worker": ["n2"]},
                work_dir=tmp_path / "work",
            )
        )
    )
    result = runner.invoke(app, ["list", "-f", str(cluster)])
    assert result.exit_code == 0, result.output
    assert "kubespray-118b2dc" in result.output
    crictl = [line for line in result.output.splitlines() if " crictl " in line]
    assert crictl
    assert "published:" in crictl[0]
    lines = [line for line in result.output.splitlines() if " kubelet " in f" {line} "]
    assert len(lines) == 2  # amd64 for n1, arm64 for n2
