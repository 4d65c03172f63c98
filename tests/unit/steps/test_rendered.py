"""rendered_files: what a step would place, said without a host; secrets only as markers."""

from __future__ import annotations

from pathlib import Path

from kubexms.steps import (
    SECRET_MARKER,
    HostsEntries,
    PlacesFiles,
    RenderContext,
    ServiceFile,
    SystemdService,
)
from tests.unit.kubernetes.sample import make_cluster


def _ctx(tmp_path: Path) -> RenderContext:
    cluster = make_cluster()
    return RenderContext(cluster, cluster.resolved_hosts()[0], tmp_path)


def test_a_service_renders_unit_drop_ins_and_files_with_secrets_as_markers(
    tmp_path: Path,
) -> None:
    step = SystemdService(
        "demo",
        "[Service]\nExecStart=/bin/true\n",
        files=(
            ServiceFile("/etc/demo/conf", "a=1\n"),
            ServiceFile("/etc/demo/token", "s3cret\n", mode=0o600, secret=True),
        ),
        drop_ins={"10-env.conf": "[Service]\nEnvironment=A=1\n"},
    )
    assert isinstance(step, PlacesFiles)
    files = {f.path: f for f in step.rendered_files(_ctx(tmp_path))}
    assert list(files) == [
        "/etc/systemd/system/demo.service",
        "/etc/systemd/system/demo.service.d/10-env.conf",
        "/etc/demo/conf",
        "/etc/demo/token",
    ]
    assert files["/etc/demo/conf"].shown() == b"a=1\n"
    token = files["/etc/demo/token"]
    assert token.mode == 0o600
    assert token.shown().startswith(SECRET_MARKER.encode())
    assert b"s3cret" not in token.shown()


def test_hosts_entries_render_the_block_the_runner_would_write(tmp_path: Path) -> None:
    step = HostsEntries((("@self", "me"), ("10.0.0.9", "api.demo")), marker="kubexms-demo")
    (block,) = step.rendered_files(_ctx(tmp_path))
    assert not block.whole
    assert block.shown().decode() == (
        "# BEGIN kubexms-demo\n10.213.0.11 me\n10.0.0.9    api.demo\n# END kubexms-demo\n"
    )
