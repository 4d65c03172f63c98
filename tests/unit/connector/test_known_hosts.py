"""known_hosts: read once, appended safely, a different key for a known host refused."""

from __future__ import annotations

import asyncio
import multiprocessing
from pathlib import Path

import asyncssh
import pytest

from kubexms.connector._known_hosts import HostKeyConflictError, KnownHostsStore, host_pattern


def _key() -> asyncssh.SSHKey:
    return asyncssh.generate_private_key("ssh-ed25519").convert_to_public()


def _data(keys: list[asyncssh.SSHKey]) -> list[bytes]:
    return [key.public_data for key in keys]


def test_host_pattern_follows_openssh() -> None:
    assert host_pattern("10.0.0.1", 22) == "10.0.0.1"
    assert host_pattern("10.0.0.1", 2222) == "[10.0.0.1]:2222"


async def test_record_appends_once_and_is_visible_immediately(tmp_path: Path) -> None:
    path = tmp_path / "ssh" / "known_hosts"
    store = KnownHostsStore(path)
    await store.known_hosts()
    key = _key()
    assert store.keys_for("10.0.0.1", 2222) == []
    await store.record("10.0.0.1", 2222, key)
    await store.record("10.0.0.1", 2222, key)
    assert _data(store.keys_for("10.0.0.1", 2222)) == [key.public_data]
    lines = path.read_text().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("[10.0.0.1]:2222 ssh-ed25519 ")
    assert (path.stat().st_mode & 0o777) == 0o600
    assert KnownHostsStore(path).keys_for("10.0.0.1", 2222) == []  # not loaded yet
    fresh = KnownHostsStore(path)
    await fresh.known_hosts()
    assert _data(fresh.keys_for("10.0.0.1", 2222)) == [key.public_data]


async def test_a_different_key_for_a_recorded_host_is_a_conflict(tmp_path: Path) -> None:
    path = tmp_path / "known_hosts"
    path.write_text("# comment without newline at end")
    first, second = KnownHostsStore(path), KnownHostsStore(path)
    await first.record("10.0.0.2", 22, _key())
    with pytest.raises(HostKeyConflictError):
        await second.record("10.0.0.2", 22, _key())
    assert len(path.read_text().splitlines()) == 2


def _record_in_process(path: str, key_text: str) -> None:
    key = asyncssh.import_public_key(key_text)
    asyncio.run(KnownHostsStore(Path(path)).record("10.0.0.3", 22, key))


def test_concurrent_processes_record_one_line(tmp_path: Path) -> None:
    path = tmp_path / "known_hosts"
    key_text = _key().export_public_key().decode()
    # Separate processes racing on one file; forked, not spawned: each spawned child would
    # import asyncssh and kubexms again (seconds of CPU) to append one line.
    context = multiprocessing.get_context("fork")
    workers = [
        context.Process(target=_record_in_process, args=(str(path), key_text)) for _ in range(6)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(180)
        assert worker.exitcode == 0
    assert len(path.read_text().splitlines()) == 1
