"""LocalConnector: the Connector contract on this machine."""

from __future__ import annotations

import asyncio
import hashlib
import os
import pwd
import stat
import time
from pathlib import Path

import pytest

from kubexms.connector import (
    CommandFailedError,
    CommandTimeoutError,
    FileTransferError,
    LocalConnector,
)

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="owner changes need root")


def _running(pid: int) -> bool:
    """A pid that is gone or a zombie (dead, not yet reaped by init) is not running."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):  # gone before or while it was read
        return False
    return "\nState:\tZ" not in status


async def _wait_gone(pids: list[int], within: float = 5.0) -> list[int]:
    """Pids still running after ``within`` seconds (killed ones may take a moment to reap)."""
    alive = pids
    for _ in range(int(within / 0.05)):
        alive = [pid for pid in alive if _running(pid)]
        if not alive:
            break
        await asyncio.sleep(0.05)
    return alive


async def test_run_keeps_stdout_stderr_and_exit_code_apart() -> None:
    async with LocalConnector("here") as local:
        result = await local.run("echo out; echo err >&2; exit 3")
    assert (result.exit_code, result.stdout, result.stderr) == (3, "out\n", "err\n")
    assert not result.ok
    assert 0 < result.duration < 5


async def test_env_cwd_and_stdin(tmp_path: Path) -> None:
    local = LocalConnector()
    result = await local.run(
        'printf "%s|%s|" "$GREETING" "$(pwd)"; cat',
        env={"GREETING": "hello 'world' $(nope)"},
        cwd=str(tmp_path),
        stdin="from stdin\n",
    )
    assert result.stdout == f"hello 'world' $(nope)|{tmp_path}|from stdin\n"
    binary = bytes(range(256))
    assert (await local.run("wc -c", stdin=binary)).stdout.strip() == "256"


async def test_missing_cwd_is_a_failed_command_not_a_crash() -> None:
    result = await LocalConnector().run("true", cwd="/nonexistent/dir")
    assert result.exit_code != 0
    assert "/nonexistent/dir" in result.stderr


async def test_must_run_raises_with_the_output() -> None:
    with pytest.raises(CommandFailedError, match="exited 4") as caught:
        await LocalConnector("box").must_run("echo why >&2; exit 4")
    assert caught.value.result.stderr == "why\n"
    assert str(caught.value).startswith("box: ")


async def test_sudo_as_root_runs_directly() -> None:
    result = await LocalConnector().run("id -u", sudo=True)
    assert result.stdout == f"{os.geteuid()}\n"


async def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    command = (
        f"echo $$ >> {pids}; "
        f"(sleep 300; echo never) & echo $! >> {pids}; "
        f"sh -c 'echo $$ >> {pids}; exec sleep 301' & "
        "wait"
    )
    started = time.monotonic()
    with pytest.raises(
        CommandTimeoutError, match=r"timed out after 0\.5s and was killed"
    ) as caught:
        await LocalConnector("box").run(command, timeout=0.5)
    assert time.monotonic() - started < 30  # nowhere near the 300 s the command wanted
    assert caught.value.killed
    assert caught.value.retryable
    recorded = [int(line) for line in pids.read_text().split()]
    assert len(recorded) == 3
    assert await _wait_gone(recorded) == []


async def test_a_command_within_its_timeout_is_untouched() -> None:
    result = await LocalConnector().run("sleep 0.1; echo done", timeout=5)
    assert result.stdout == "done\n"


async def test_cancelling_a_run_kills_the_command(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    task = asyncio.ensure_future(LocalConnector().run(f"echo $$ > {pid_file}; exec sleep 300"))
    for _ in range(250):
        if pid_file.exists() and pid_file.read_text().strip():
            break
        await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await _wait_gone([int(pid_file.read_text())]) == []


async def test_put_bytes_lands_with_mode_and_no_temp_left(tmp_path: Path) -> None:
    target = tmp_path / "new" / "dir" / "file.conf"
    await LocalConnector().put(b"key = value\n", str(target), mode=0o640)
    assert target.read_bytes() == b"key = value\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert os.listdir(target.parent) == ["file.conf"]


async def test_put_file_keeps_source_mode_by_default(tmp_path: Path) -> None:
    source = tmp_path / "tool.sh"
    source.write_text("#!/bin/sh\necho hi\n")
    source.chmod(0o751)
    target = tmp_path / "out" / "tool.sh"
    await LocalConnector().put(source, str(target))
    assert stat.S_IMODE(target.stat().st_mode) == 0o751
    assert (await LocalConnector().run(str(target))).stdout == "hi\n"


@as_root
async def test_put_sets_owner_and_group(tmp_path: Path) -> None:
    nobody = pwd.getpwnam("nobody")
    target = tmp_path / "owned"
    await LocalConnector().put(b"x", str(target), mode=0o600, owner=f"nobody:{nobody.pw_gid}")
    info = target.stat()
    assert (info.st_uid, info.st_gid) == (nobody.pw_uid, nobody.pw_gid)
    assert stat.S_IMODE(info.st_mode) == 0o600


async def test_put_replaces_atomically_for_concurrent_readers(tmp_path: Path) -> None:
    target = tmp_path / "big"
    old, new = b"a" * (4 << 20), b"b" * (4 << 20)
    target.write_bytes(old)
    seen: set[bytes] = set()
    stop = asyncio.Event()

    def read_loop() -> None:
        while not stop.is_set():
            data = target.read_bytes()
            seen.add(hashlib.sha256(data).digest())

    reader = asyncio.ensure_future(asyncio.to_thread(read_loop))
    try:
        for content in (new, old, new):
            await LocalConnector().put(content, str(target))
    finally:
        stop.set()
        await reader
    assert seen <= {hashlib.sha256(old).digest(), hashlib.sha256(new).digest()}
    assert target.read_bytes() == new


async def test_put_directory_merges_and_get_directory_round_trips(tmp_path: Path) -> None:
    source = tmp_path / "src"
    (source / "sub" / "deeper").mkdir(parents=True)
    (source / "a.txt").write_text("A")
    (source / "sub" / "b.bin").write_bytes(bytes(range(256)))
    (source / "sub" / "deeper" / "run.sh").write_text("echo")
    (source / "sub" / "deeper" / "run.sh").chmod(0o755)
    (source / "name with 'quotes' and $dollar").write_text("odd")
    target = tmp_path / "remote"
    target.mkdir()
    (target / "keep.txt").write_text("untouched")
    (target / "a.txt").write_text("old")

    await LocalConnector().put(source, str(target), mode=0o750)

    assert (target / "keep.txt").read_text() == "untouched"
    assert (target / "a.txt").read_text() == "A"
    assert (target / "sub" / "b.bin").read_bytes() == bytes(range(256))
    assert (target / "name with 'quotes' and $dollar").read_text() == "odd"
    assert stat.S_IMODE((target / "sub" / "deeper" / "run.sh").stat().st_mode) == 0o755
    assert stat.S_IMODE(target.stat().st_mode) == 0o750
    leftovers = [p for p in target.rglob("*") if ".kubexms-" in p.name]
    assert leftovers == []

    fetched = tmp_path / "fetched"
    await LocalConnector().get(str(target), fetched)
    assert sorted(p.relative_to(fetched) for p in fetched.rglob("*")) == sorted(
        p.relative_to(target) for p in target.rglob("*")
    )
    assert (fetched / "sub" / "b.bin").read_bytes() == bytes(range(256))


async def test_get_file_replaces_local_file(tmp_path: Path) -> None:
    remote = tmp_path / "remote.txt"
    remote.write_text("fresh")
    remote.chmod(0o640)
    local = tmp_path / "local" / "copy.txt"
    local.parent.mkdir()
    local.write_text("stale")
    await LocalConnector().get(str(remote), local)
    assert local.read_text() == "fresh"
    assert stat.S_IMODE(local.stat().st_mode) == 0o640
    assert os.listdir(local.parent) == ["copy.txt"]


async def test_get_missing_path_is_a_transfer_error(tmp_path: Path) -> None:
    with pytest.raises(FileTransferError, match="could not read /nonexistent/file"):
        await LocalConnector("box").get("/nonexistent/file", tmp_path / "x")
    assert os.listdir(tmp_path) == []


async def test_put_missing_source_is_a_transfer_error(tmp_path: Path) -> None:
    with pytest.raises(FileTransferError, match="does not exist"):
        await LocalConnector().put(tmp_path / "absent", str(tmp_path / "target"))


@pytest.mark.parametrize(
    ("remote", "kwargs", "message"),
    [
        ("relative/path", {}, "must be absolute"),
        ("/", {}, "root directory"),
        ("/tmp/x", {"mode": 0o10000}, "not a permission mode"),
        ("/tmp/x", {"owner": "bad owner"}, "not 'user' or 'user:group'"),
        ("/tmp/x", {"owner": "-R"}, "not 'user' or 'user:group'"),
    ],
)
async def test_bad_put_arguments_are_refused(
    remote: str, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        await LocalConnector().put(b"x", remote, **kwargs)  # type: ignore[arg-type]


async def test_close_is_idempotent() -> None:
    local = LocalConnector()
    await local.close()
    await local.close()
    assert (await local.run("echo still")).stdout == "still\n"
