"""The helm double is strict about its command line and says it is a double (it needs no
cluster for these: every refusal comes before it talks to the API server)."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.doubles import DOUBLE_MARK, double_command
from tests.doubles.helm import chart_objects


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*double_command("helm"), *args], capture_output=True, text=True, timeout=30, check=False
    )


def test_it_says_it_is_a_double() -> None:
    for args in (["--version"], ["version", "--short"]):
        done = helm(*args)
        assert done.returncode == 0
        assert DOUBLE_MARK in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["upgrade", "--install", "r", "/c.tgz", "--bogus"], "Error: unknown flag: --bogus"),
        (["upgrade", "--install", "r", "/c.tgz", "-x"], "Error: unknown shorthand flag: 'x'"),
        (["upgrade", "--install", "r"], 'Error: "helm upgrade" requires 2 arguments, got 1'),
        (["upgrade", "--install", "r", "/c.tgz", "--wait=maybe"], 'invalid argument "maybe"'),
        (["upgrade", "--install", "r", "/c.tgz", "--timeout"], "flag needs an argument"),
        (["status"], 'Error: "helm status" requires 1 argument, got 0'),
        (["status", "r", "--output=xml"], "invalid format type 'xml'"),
        (["install", "r", "/c.tgz"], 'Error: unknown command "install" for "helm"'),
    ],
)
def test_what_helm_refuses_is_refused(args: list[str], message: str) -> None:
    done = helm(*args)
    assert done.returncode == 1
    assert message in done.stderr


def test_a_missing_values_file_or_chart_is_named(tmp_path: Path) -> None:
    done = helm("upgrade", "--install", "r", str(tmp_path / "c.tgz"), f"--values={tmp_path}/v")
    assert done.returncode == 1
    assert f"open {tmp_path}/v: no such file or directory" in done.stderr
    not_a_chart = tmp_path / "c.tgz"
    not_a_chart.write_bytes(b"plain bytes")
    packed = io.BytesIO()
    with tarfile.open(fileobj=packed, mode="w:gz") as archive:
        archive.addfile(tarfile.TarInfo("c/README"), io.BytesIO(b""))
    no_metadata = tmp_path / "d.tgz"
    no_metadata.write_bytes(packed.getvalue())
    for chart, message in (
        (not_a_chart, "does not appear to be a gzipped archive"),
        (no_metadata, "Chart.yaml file is missing"),
        (tmp_path / "absent.tgz", f'path "{tmp_path}/absent.tgz" not found'),
    ):
        # the call is logged before the chart is read: keep this machine's /var clean
        done = subprocess.run(
            [*double_command("helm"), "upgrade", "--install", "r", str(chart)],
            capture_output=True, text=True, timeout=30, check=False,
            env={"PATH": "/usr/bin:/bin", "HELM_DOUBLE_CALLS": str(tmp_path / "calls.jsonl")},
        )  # fmt: skip
        assert done.returncode == 1
        assert message in done.stderr


def stand_in_chart(path: Path, template: str) -> Path:
    packed = io.BytesIO()
    with tarfile.open(fileobj=packed, mode="w:gz") as archive:
        for name, text in (
            ("c/Chart.yaml", "apiVersion: v2\nname: c\nversion: 1.0.0\n"),
            ("c/templates/ds.yaml", template),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            archive.addfile(info, io.BytesIO(text.encode()))
    path.write_bytes(packed.getvalue())
    return path


def test_plain_templates_are_the_objects_and_a_template_action_is_refused(tmp_path: Path) -> None:
    plain = "kind: DaemonSet\nmetadata:\n  name: agent\n  labels: {k8s-app: agent}\n---\n"
    objects = chart_objects(stand_in_chart(tmp_path / "p.tgz", plain).read_bytes(), "r", "ns")
    assert objects == [
        {
            "kind": "DaemonSet",
            "metadata": {
                "name": "agent",
                "labels": {"k8s-app": "agent", "app.kubernetes.io/managed-by": "Helm"},
                "annotations": {
                    "meta.helm.sh/release-name": "r",
                    "meta.helm.sh/release-namespace": "ns",
                },
            },
        }
    ]
    templated = stand_in_chart(tmp_path / "t.tgz", "metadata: {name: {{ .Release.Name }}}\n")
    done = subprocess.run(
        [*double_command("helm"), "upgrade", "--install", "r", str(templated)],
        capture_output=True, text=True, timeout=30, check=False,
        env={"PATH": "/usr/bin:/bin", "HELM_DOUBLE_CALLS": str(tmp_path / "calls.jsonl")},
    )  # fmt: skip
    assert done.returncode == 1
    assert "render error in c/templates/ds.yaml" in done.stderr
