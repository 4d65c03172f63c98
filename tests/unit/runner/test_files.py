"""runner.files against real scripts run by /bin/sh on paths under tmp_path."""

# ruff: noqa: ASYNC240 - tests look at local files directly, blocking is fine here

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from kubexms.connector import CommandFailedError
from kubexms.runner import FileSpec, Runner
from tests.unit.runner.fakes import ShellConnector


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


async def test_write_changes_once_then_reports_unchanged(runner: Runner, tmp_path: Path) -> None:
    target = tmp_path / "etc" / "app.conf"
    first = await runner.files.write(str(target), "a = 1\n", mode=0o600)
    second = await runner.files.write(str(target), "a = 1\n", mode=0o600)
    assert first.changed
    assert first.detail == "new file"
    assert not second.changed
    assert target.read_text() == "a = 1\n"
    assert mode_of(target) == 0o600
    assert mode_of(target.parent) == 0o755


async def test_write_fixes_mode_without_rewriting(runner: Runner, tmp_path: Path) -> None:
    target = tmp_path / "f"
    await runner.files.write(str(target), b"x", mode=0o644)
    inode = target.stat().st_ino
    change = await runner.files.write(str(target), b"x", mode=0o640)
    assert change.changed
    assert change.detail == "mode/owner fixed"
    assert mode_of(target) == 0o640
    assert target.stat().st_ino == inode


async def test_write_replaces_by_rename_and_leaves_no_temporaries(
    runner: Runner, tmp_path: Path
) -> None:
    target = tmp_path / "f"
    target.write_text("old")
    inode = target.stat().st_ino
    await runner.files.write(str(target), "new")
    assert target.read_text() == "new"
    assert target.stat().st_ino != inode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


async def test_write_owner_by_name_and_numeric_id(runner: Runner, tmp_path: Path) -> None:
    target = tmp_path / "owned"
    assert (await runner.files.write(str(target), "x", owner="nobody:nogroup")).changed
    assert target.stat().st_uid == 65534
    assert not (await runner.files.write(str(target), "x", owner="65534:65534")).changed
    assert (await runner.files.write(str(target), "x", owner="root")).changed
    assert target.stat().st_uid == 0


async def test_content_travels_on_stdin_not_in_the_command(
    runner: Runner, shell: ShellConnector, tmp_path: Path
) -> None:
    secret = "token-that-must-not-be-in-argv"
    await runner.files.write(str(tmp_path / "s"), secret)
    assert all(secret not in call.command for call in shell.calls)


async def test_write_many_in_one_round_trip(
    runner: Runner, shell: ShellConnector, tmp_path: Path
) -> None:
    specs = [FileSpec(str(tmp_path / f"d{i}" / "f"), f"{i}".encode(), 0o600) for i in range(5)]
    changes = await runner.files.write_many(specs)
    assert [c.changed for c in changes] == [True] * 5
    assert len(shell.calls) == 1
    again = await runner.files.write_many(specs)
    assert [c.changed for c in again] == [False] * 5


async def test_large_content_beyond_argv_limit(runner: Runner, tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024)
    target = tmp_path / "big.bin"
    assert (await runner.files.write(str(target), data)).changed
    assert target.read_bytes() == data
    assert await runner.files.read(str(target)) == data


async def test_stat_read_sha256_exists(runner: Runner, tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_bytes(b"hello\n")
    target.chmod(0o640)
    info = await runner.files.stat(str(target))
    assert info is not None
    assert (info.kind, info.mode, info.size, info.owner) == ("file", 0o640, 6, "root")
    assert await runner.files.stat(str(tmp_path / "missing")) is None
    assert await runner.files.exists(str(target))
    assert not await runner.files.exists(str(tmp_path / "missing"))
    assert (
        await runner.files.sha256(str(target))
        == "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
    )
    assert await runner.files.sha256(str(tmp_path)) is None
    assert await runner.files.read_text(str(target)) == "hello\n"
    with pytest.raises(FileNotFoundError):
        await runner.files.read(str(tmp_path / "missing"))


async def test_mkdir_chmod_chown_remove(runner: Runner, tmp_path: Path) -> None:
    target = tmp_path / "a" / "b"
    assert (await runner.files.mkdir(str(target), mode=0o700)).changed
    assert not (await runner.files.mkdir(str(target), mode=0o700)).changed
    assert mode_of(target) == 0o700
    assert (await runner.files.chmod(str(target), 0o750)).changed
    assert not (await runner.files.chmod(str(target), 0o750)).changed
    assert (await runner.files.chown(str(tmp_path / "a"), "nobody", recursive=True)).changed
    assert target.stat().st_uid == 65534
    assert not (await runner.files.chown(str(tmp_path / "a"), "nobody", recursive=True)).changed
    assert not (await runner.files.chown(str(target), "nobody")).changed
    assert (await runner.files.remove(str(tmp_path / "a"))).changed
    assert not (await runner.files.remove(str(tmp_path / "a"))).changed
    assert not (tmp_path / "a").exists()


async def test_symlink(runner: Runner, tmp_path: Path) -> None:
    link = tmp_path / "current"
    assert (await runner.files.symlink("/opt/v1", str(link))).changed
    assert not (await runner.files.symlink("/opt/v1", str(link))).changed
    assert (await runner.files.symlink("/opt/v2", str(link))).changed
    assert os.readlink(link) == "/opt/v2"
    info = await runner.files.stat(str(link))
    assert info is not None
    assert info.kind == "symlink"
    assert info.link_target == "/opt/v2"


async def test_upload_file_and_tree_only_when_different(
    runner: Runner, shell: ShellConnector, tmp_path: Path
) -> None:
    source = tmp_path / "src"
    (source / "sub").mkdir(parents=True)
    (source / "a").write_text("a")
    (source / "sub" / "b").write_text("b")
    remote = tmp_path / "remote"
    assert (await runner.files.upload(source, str(remote))).changed
    assert not (await runner.files.upload(source, str(remote))).changed
    (source / "sub" / "b").write_text("b2")
    assert (await runner.files.upload(source, str(remote))).changed
    assert (remote / "sub" / "b").read_text() == "b2"
    single = tmp_path / "one"
    single.write_text("1")
    assert (await runner.files.upload(single, str(tmp_path / "r1"), mode=0o600)).changed
    assert not (await runner.files.upload(single, str(tmp_path / "r1"), mode=0o600)).changed
    assert (await runner.files.upload(single, str(tmp_path / "r1"), mode=0o644)).changed
    assert len(shell.puts) == 4


async def test_fetch_reports_local_change(runner: Runner, tmp_path: Path) -> None:
    remote = tmp_path / "remote.txt"
    remote.write_text("x")
    local = tmp_path / "local" / "copy.txt"
    assert (await runner.files.fetch(str(remote), local)).changed
    assert not (await runner.files.fetch(str(remote), local)).changed
    assert local.read_text() == "x"


async def test_relative_paths_are_refused(runner: Runner) -> None:
    with pytest.raises(ValueError, match="absolute"):
        await runner.files.write("etc/x", "x")
    with pytest.raises(ValueError, match="root directory"):
        await runner.files.remove("/")
    with pytest.raises(ValueError, match="owner"):
        await runner.files.write("/tmp/x", "x", owner="root; rm -rf /")


async def test_failing_script_raises_with_output(runner: Runner, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(CommandFailedError):
        await runner.files.write(str(blocker / "child"), "x")


async def test_privileged_operations_ask_for_sudo(shell: ShellConnector, tmp_path: Path) -> None:
    await Runner(shell).files.write(str(tmp_path / "a"), "x")
    await Runner(shell, sudo=False).files.write(str(tmp_path / "b"), "x")
    assert [call.sudo for call in shell.calls] == [True, False]
