"""Checkpoints: what is recorded, how it is read back, and when a resume is refused."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from kubexms.engine import (
    CheckpointError,
    CheckpointKey,
    CheckpointWriter,
    Event,
    EventKind,
    JsonLinesLog,
    Module,
    checkpoint_path,
    config_fingerprint,
    read_checkpoint,
    resume_point,
    run_log_path,
)
from kubexms.testing import cluster_of
from tests.unit.engine.world import Failure, pipeline, setup, task

KEY = CheckpointKey("init-os", "c" * 64, "p" * 64)


def test_records_round_trip_and_a_torn_last_line_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "checkpoints" / "init-os.jsonl"
    writer = CheckpointWriter.create(path, KEY)
    writer.record("init-os/m/t/a", "node1")
    writer.record("init-os/m/t/a", "node2")
    writer.close()
    with path.open("a") as handle:
        handle.write('{"node": "init-os/m/t/b", "ho')  # the machine died mid-write
    saved = read_checkpoint(path)
    assert saved is not None
    assert saved.key == KEY
    assert saved.completed == {("init-os/m/t/a", "node1"), ("init-os/m/t/a", "node2")}
    # Continuing cuts the torn line, so new records stay readable.
    writer = CheckpointWriter.append(path)
    writer.record("init-os/m/t/b", "node1")
    writer.close()
    again = read_checkpoint(path)
    assert again is not None
    assert ("init-os/m/t/b", "node1") in again.completed
    assert len(again.completed) == 3


def test_no_checkpoint_means_nothing_to_resume(tmp_path: Path) -> None:
    start = resume_point(tmp_path / "none.jsonl", KEY, resume=True, force=False)
    assert start.completed == frozenset()
    assert not start.continues


def test_damaged_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("this is not json\n")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        resume_point(path, KEY, resume=True, force=False)


def test_changed_config_refuses_to_resume_unless_forced(tmp_path: Path) -> None:
    path = tmp_path / "init-os.jsonl"
    writer = CheckpointWriter.create(path, KEY)
    writer.record("init-os/m/t/a", "node1")
    writer.close()
    changed = CheckpointKey("init-os", "d" * 64, KEY.plan_hash)
    with pytest.raises(CheckpointError, match=r"the cluster file changed.*--force"):
        resume_point(path, changed, resume=True, force=False)
    replanned = CheckpointKey("init-os", KEY.config_hash, "q" * 64)
    with pytest.raises(CheckpointError, match="the plan changed"):
        resume_point(path, replanned, resume=True, force=False)
    forced = resume_point(path, changed, resume=True, force=True)
    assert forced.completed == {("init-os/m/t/a", "node1")}
    forced.open_writer().close()
    rewritten = read_checkpoint(path)
    assert rewritten is not None
    assert rewritten.key == changed  # keyed to the new config from now on
    assert rewritten.completed == forced.completed


def test_without_resume_a_fresh_checkpoint_replaces_the_old(tmp_path: Path) -> None:
    path = tmp_path / "init-os.jsonl"
    writer = CheckpointWriter.create(path, KEY)
    writer.record("init-os/m/t/a", "node1")
    writer.close()
    start = resume_point(path, KEY, resume=False, force=False)
    assert start.completed == frozenset()
    start.open_writer().close()
    saved = read_checkpoint(path)
    assert saved is not None
    assert saved.completed == frozenset()


def test_config_fingerprint_tracks_content_but_holds_no_secret() -> None:
    plain = cluster_of(2)
    secret = cluster_of(2, extra_spec={"global": {"password": "hunter2-very-secret"}})
    other_secret = cluster_of(2, extra_spec={"global": {"password": "another-secret"}})
    bigger = cluster_of(3)
    assert config_fingerprint(plain) != config_fingerprint(bigger)
    assert config_fingerprint(plain) != config_fingerprint(secret)  # a password was added
    # The secret's value is masked before hashing: changing it does not change the hash.
    assert config_fingerprint(secret) == config_fingerprint(other_secret)


async def test_resume_skips_completed_pairs_and_releases_dependents(tmp_path: Path) -> None:
    s = await setup(3)
    s.world.fail[("node2", "run b")] = Failure(code=1)
    graph = pipeline(Module("m", [task("t", "a", "b")]), Module("n", [task("u", "c")])).plan(
        s.config
    )
    path = tmp_path / "cp.jsonl"
    key = CheckpointKey(graph.pipeline, config_fingerprint(s.config), graph.fingerprint())
    engine = s.engine()
    engine.checkpoint = CheckpointWriter.create(path, key)
    first = await engine.run(graph)
    engine.checkpoint.close()
    assert first.failed_hosts == ["node2"]
    saved = read_checkpoint(path)
    assert saved is not None
    done_first = saved.completed
    assert ("p/m/t/a", "node1") in done_first
    assert ("p/m/t/b", "node2") not in done_first
    assert not any(node == "p/n/u/c" for node, _ in done_first)

    # The host is fixed; resume.
    del s.world.fail[("node2", "run b")]
    s.recorder.events.clear()
    s.world.log.clear()
    start = resume_point(path, key, resume=True, force=False)
    engine = s.engine()
    engine.checkpoint = start.open_writer()
    engine.completed = start.completed
    second = await engine.run(graph)
    engine.checkpoint.close()
    assert second.succeeded
    started = set(s.recorder.pairs(EventKind.STARTED))
    assert started.isdisjoint(done_first)  # nothing completed was run again
    prechecked = s.world.commands("precheck")
    for node, host in done_first:
        assert (host, node.rsplit("/", 1)[1]) not in prechecked
    resumed = [e for e in s.recorder.of(EventKind.SKIPPED) if "earlier run" in e.detail]
    assert {(e.node, e.host) for e in resumed} == set(done_first)
    # Dependents of resumed nodes were released: c ran everywhere.
    for host in ("node1", "node2", "node3"):
        assert s.world.ran(host)[-1] == "c"


def test_checkpoint_file_holds_only_ids_hosts_and_hashes(tmp_path: Path) -> None:
    path = tmp_path / "cp.jsonl"
    writer = CheckpointWriter.create(path, KEY)
    writer.record("init-os/m/t/a", "node1")
    writer.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert set(lines[0]) == {"format", "pipeline", "config_hash", "plan_hash", "created"}
    assert lines[1] == {"node": "init-os/m/t/a", "host": "node1"}


def test_checkpoints_and_run_logs_are_private_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        work = tmp_path / "work"
        (work / "runs").mkdir(parents=True, mode=0o755)
        key = CheckpointKey("p", "c", "plan")
        path = checkpoint_path(work, "p")
        writer = CheckpointWriter.create(path, key)
        writer.record("m/t/s", "node1")
        writer.close()
        CheckpointWriter.append(path).close()
        log = JsonLinesLog.open(run_log_path(work, "p", "abc"), run_id="abc")
        log(Event(EventKind.RUN_STARTED))
        log.close()
    finally:
        os.umask(old)
    for directory in (work / "runs", work / "checkpoints"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    files = [path, *(work / "runs").iterdir()]
    assert len(files) == 2
    for file in files:
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
