"""Check mode: ``check=True`` changes nothing on the host and returns exactly the Change the
real run then reports (same script, same probe). Real scripts run by /bin/sh under tmp_path.
"""

# ruff: noqa: ASYNC240 - tests look at local files directly, blocking is fine here

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from kubexms.runner import Change, FileSpec, Runner

Snapshot = dict[str, tuple[str, int, int, bytes | str]]


def snapshot(root: Path) -> Snapshot:
    """Every path under ``root``: kind, mode, uid and content (or link target)."""
    found: Snapshot = {}
    for directory, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(directory, name)
            info = path.lstat()
            if path.is_symlink():
                found[str(path)] = ("link", info.st_mode, info.st_uid, os.readlink(path))
            elif path.is_dir():
                found[str(path)] = ("dir", info.st_mode, info.st_uid, b"")
            else:
                found[str(path)] = ("file", info.st_mode, info.st_uid, path.read_bytes())
    return found


async def predicts(root: Path, operation: Callable[[bool], Awaitable[Change]]) -> Change:
    """Check, assert nothing changed, run for real, assert the check said exactly that;
    then a second check says the host is done. Returns the real Change."""
    before = snapshot(root)
    predicted = await operation(True)
    assert snapshot(root) == before, "check mode changed the host"
    real = await operation(False)
    assert predicted == real
    assert not (await operation(True)).changed
    return real


async def test_write_new_file(runner: Runner, tmp_path: Path) -> None:
    path = str(tmp_path / "etc" / "app.conf")
    change = await predicts(
        tmp_path, lambda check: runner.files.write(path, "a = 1\n", mode=0o600, check=check)
    )
    assert (change.changed, change.detail) == (True, "new file")


async def test_write_reports_the_diff_of_lines(runner: Runner, tmp_path: Path) -> None:
    target = tmp_path / "app.conf"
    target.write_text("keep\nold 1\nold 2\n")
    change = await predicts(
        tmp_path,
        lambda check: runner.files.write(str(target), "keep\nnew\n", mode=0o644, check=check),
    )
    assert change.detail == "+1 -2 lines"
    assert target.read_text() == "keep\nnew\n"


async def test_write_of_only_the_mode(runner: Runner, tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_text("x")
    target.chmod(0o644)
    change = await predicts(
        tmp_path, lambda check: runner.files.write(str(target), "x", mode=0o600, check=check)
    )
    assert change.detail == "mode/owner fixed"


async def test_write_many(runner: Runner, tmp_path: Path) -> None:
    (tmp_path / "same").write_text("same")
    (tmp_path / "same").chmod(0o644)
    specs = [
        FileSpec(str(tmp_path / "same"), b"same"),
        FileSpec(str(tmp_path / "d" / "new"), b"new"),
    ]
    before = snapshot(tmp_path)
    predicted = await runner.files.write_many(specs, check=True)
    assert snapshot(tmp_path) == before
    assert predicted == await runner.files.write_many(specs)
    assert [c.changed for c in predicted] == [False, True]


async def test_directory_operations(runner: Runner, tmp_path: Path) -> None:
    base = tmp_path / "d"
    made = await predicts(
        tmp_path, lambda check: runner.files.mkdir(str(base / "a" / "b"), mode=0o750, check=check)
    )
    assert made.detail == "created"
    assert (base / "a" / "b").stat().st_mode & 0o777 == 0o750
    moded = await predicts(
        tmp_path, lambda check: runner.files.chmod(str(base / "a"), 0o700, check=check)
    )
    assert moded.detail == "mode 700"
    owned = await predicts(
        tmp_path,
        lambda check: runner.files.chown(str(base), "nobody", recursive=True, check=check),
    )
    assert owned.detail == "owner"
    linked = await predicts(
        tmp_path, lambda check: runner.files.symlink("/etc/x", str(base / "link"), check=check)
    )
    assert linked.detail == "linked"
    removed = await predicts(tmp_path, lambda check: runner.files.remove(str(base), check=check))
    assert removed.detail == "removed"
    assert not base.exists()


async def test_managed_block(runner: Runner, tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n")
    change = await predicts(
        tmp_path,
        lambda check: runner.files.managed_block(str(hosts), "10.0.0.1 node1\n", check=check),
    )
    assert change.detail == "+3 -0 lines"


async def test_template(runner: Runner, tmp_path: Path) -> None:
    path = str(tmp_path / "out.conf")
    change = await predicts(
        tmp_path,
        lambda check: runner.templates.render(
            "port = {{ port }}\n", path, {"port": 80}, check=check
        ),
    )
    assert change.action == f"render {path}"


async def test_upload_of_a_file_and_of_a_directory(runner: Runner, tmp_path: Path) -> None:
    source = tmp_path / "src"
    (source / "sub").mkdir(parents=True)
    (source / "a").write_text("a")
    (source / "sub" / "b").write_text("b")
    remote = tmp_path / "remote"
    tree = await predicts(
        tmp_path,
        lambda check: runner.files.upload(source, str(remote), check=check),
    )
    assert tree.detail == "2 of 2 file(s) differ"
    (source / "a").write_text("changed")
    again = await runner.files.upload(source, str(remote), check=True)
    assert (again.changed, again.detail) == (True, "1 of 2 file(s) differ")
    assert (remote / "a").read_text() == "a"
    single = await predicts(
        tmp_path,
        lambda check: runner.files.upload(source / "a", str(tmp_path / "one"), check=check),
    )
    assert single.changed


def make_archive(path: Path, files: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))


async def test_extract_into_a_missing_and_an_existing_directory(
    runner: Runner, tmp_path: Path
) -> None:
    archive = tmp_path / "a.tar.gz"
    make_archive(archive, {"x/one": b"1", "x/two": b"2"})
    dest = tmp_path / "dest"
    change = await predicts(
        tmp_path, lambda check: runner.archives.extract(str(archive), str(dest), check=check)
    )
    assert change.detail == "2 file(s) replaced"
    make_archive(archive, {"x/one": b"1", "x/two": b"changed"})
    again = await predicts(
        tmp_path, lambda check: runner.archives.extract(str(archive), str(dest), check=check)
    )
    assert again.detail == "1 file(s) replaced"


async def test_swap_off_comments_fstab_entries(runner: Runner, tmp_path: Path) -> None:
    if Path("/proc/swaps").read_text().count("\n") > 1:
        pytest.skip("this machine has swap on; swap_off would turn it off")
    fstab = tmp_path / "fstab"
    fstab.write_text("/dev/sda1 / ext4 defaults 0 1\n/swapfile none swap sw 0 0\n")
    change = await predicts(
        tmp_path, lambda check: runner.system.swap_off(fstab=str(fstab), check=check)
    )
    assert change.detail == "fstab"
    assert "# /swapfile none swap sw 0 0" in fstab.read_text()
