"""Faults during the etcd phase of `kubexms create cluster --only etcd` (fleet tier).

A member's sshd stops while the phase is under way: the run fails with an error for that host
alone, ``--resume`` (with ``--break-lock``: the lost host's lock could not be released) finishes
the phase without redoing what was done, and a rerun afterwards changes nothing. A setting
etcd refuses stops the rolling restart at the first member, with that member's journal in the
error, while the two others keep the quorum; the fixed file heals it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import pytest_asyncio
import yaml

from tests.etcd_cluster import Etcd, changed_counts, etcd_cluster, finish
from tests.event_log import events
from tests.leasing import HostPool

pytestmark = pytest.mark.fleet


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def etcd(
    fleet_pool: HostPool, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Etcd]:
    async with etcd_cluster(fleet_pool, tmp_path_factory.mktemp("etcd-faults"), __name__) as made:
        yield made


async def wait_for(
    condition: Callable[[], Awaitable[bool]], what: str, timeout: float = 600
) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_member_sshd_lost_mid_phase_then_resume_then_nothing_to_do(etcd: Etcd) -> None:
    victim = etcd.hosts[1]
    before = etcd.logs()
    first = await etcd.start("-o", "json")

    def log() -> Path | None:
        new = etcd.logs() - before
        return next(iter(new)) if new else None

    async def etcd_phase_begun() -> bool:
        path = log()
        if path is None:
            return first.returncode is not None
        return any(
            e["event"] == "node-started" and e.get("node", "").startswith("create-cluster/etcd/")
            for e in events(path)
        )

    await wait_for(etcd_phase_begun, "the etcd phase to begin")
    # Stop sshd and end the sessions it already serves (ssh.service keeps them otherwise).
    await etcd.on(victim, "systemctl stop ssh && loginctl terminate-user root")
    try:
        code, out, err = await finish(first)
    finally:
        await etcd.on(victim, "systemctl start ssh")
    assert code == 1, out
    failed = json.loads(out)
    assert failed["failed_hosts"] == [victim], failed
    assert failed["hosts"][victim]["errors"]
    for other in etcd.hosts:  # the error is the lost host's alone
        if other != victim:
            assert failed["hosts"][other]["errors"] == [], failed["hosts"][other]
    first_log = log()
    assert first_log is not None
    completed = {
        (e["node"], e["host"]) for e in events(first_log) if e["event"] in ("changed", "unchanged")
    }
    assert any(node.startswith("create-cluster/etcd/") for node, _ in completed)

    before = etcd.logs()
    code, out, err = await etcd.run("--resume", "--break-lock", "-o", "json")
    assert code == 0, err + out
    assert json.loads(out)["outcome"] == "succeeded"
    (second_log,) = etcd.logs() - before
    started = {(e["node"], e["host"]) for e in events(second_log) if e["event"] == "started"}
    assert started.isdisjoint(completed), started & completed
    assert (await etcd.on(victim, "systemctl is-active etcd")).strip() == "active"
    assert etcd.client("endpoint", "health").returncode == 0

    code, out, err = await etcd.run("-o", "json")
    assert code == 0, err
    assert set(changed_counts(json.loads(out)).values()) == {0}


async def test_a_broken_setting_stops_the_roll_at_the_first_member(etcd: Etcd) -> None:
    """etcd refuses the new setting: the first member's restart fails with its journal, the
    roll goes no further (two members keep the quorum), and the fixed file heals it."""
    good = etcd.cluster.read_text()
    document = yaml.safe_load(good)
    document["spec"]["etcd"]["extraArgs"] = {"max-request-bytes": "lots"}
    etcd.cluster.write_text(yaml.safe_dump(document, sort_keys=False))
    first, *others = etcd.hosts
    try:
        code, out, _ = await etcd.run("-o", "json")
        assert code == 1
        result = json.loads(out)
        assert result["failed_hosts"] == [first], result
        message = "\n".join(result["hosts"][first]["errors"])
        assert "etcd.service is not healthy" in message, message
        assert "last journal lines" in message, message
        assert "max-request-bytes" in message or "MAX_REQUEST_BYTES" in message, message
        for other in others:  # never restarted: still serving with the old setting
            assert (await etcd.on(other, "systemctl is-active etcd")).strip() == "active"
        put = etcd.client("put", "/kubexms/during-roll", "kept", hosts=others)
        assert put.returncode == 0, put.stderr
    finally:
        etcd.cluster.write_text(good)
    code, out, err = await etcd.run("-o", "json")
    assert code == 0, err + out
    assert (await etcd.on(first, "systemctl is-active etcd")).strip() == "active"
    got = etcd.client("get", "/kubexms/during-roll", "--print-value-only", hosts=[first])
    assert got.stdout.strip() == "kept"
