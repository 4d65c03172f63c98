"""Directory and HostsEntries against a real shell on scratch paths: the precheck is the
Runner's check mode (same probe, nothing changed), a second run changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubexms.runtime import Context
from kubexms.steps import Directory, HostsEntries
from tests.unit.steps.local import local_cluster, local_context


@pytest.fixture
async def ctx(tmp_path: Path) -> Context:
    _, context = await local_context(local_cluster(tmp_path / "work"))
    return context


async def test_directory_with_mode(ctx: Context, tmp_path: Path) -> None:
    path = tmp_path / "var" / "lib" / "etcd"
    step = Directory(str(path), mode=0o700)
    assert step.name == "dir-etcd"
    assert (await step.precheck(ctx)).changed
    assert not path.exists()
    assert (await step.run(ctx)).changed
    assert path.stat().st_mode & 0o7777 == 0o700
    assert not (await step.precheck(ctx)).changed
    path.chmod(0o755)
    assert (await step.run(ctx)).changed
    assert path.stat().st_mode & 0o7777 == 0o700


async def test_hosts_entries_keep_the_rest_of_the_file(ctx: Context, tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n")
    step = HostsEntries(
        (("10.0.0.5", "registry.local"), ("@self", "lb.local")),
        marker="kubexms-registry",
        file=str(hosts),
    )
    pending = await step.precheck(ctx)
    assert pending.changed
    assert hosts.read_text() == "127.0.0.1 localhost\n"
    await step.run(ctx)
    assert hosts.read_text() == (
        "127.0.0.1 localhost\n"
        "# BEGIN kubexms-registry\n"
        "10.0.0.5   registry.local\n"
        "10.213.0.1 lb.local\n"
        "# END kubexms-registry\n"
    )
    assert not (await step.run(ctx)).changed


def test_hosts_entries_refuse_lines_that_break_the_file() -> None:
    with pytest.raises(ValueError, match="spans lines"):
        HostsEntries((("10.0.0.5", "a\n10.6.6.6 evil"),), marker="m")
