"""A stopped command gets TERM first and KILL only after a grace period (real processes).

Before, a timeout sent KILL at once: an apt or dpkg in the middle of a transaction had no
chance to end it, and left packages unpacked but not configured.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from kubexms.connector import CommandTimeoutError, LocalConnector
from kubexms.connector._shell import kill_group_command

# Generous bounds: the machine running the tests may be heavily loaded.
SLACK = 20.0


async def test_a_timed_out_command_is_terminated_and_may_clean_up(tmp_path: Path) -> None:
    cleaned = tmp_path / "cleaned-up"
    connector = LocalConnector("here")
    connector.stop_grace = 10.0
    command = f"trap 'echo done > {cleaned}; exit 0' TERM; while :; do sleep 0.1; done"
    started = time.monotonic()
    with pytest.raises(CommandTimeoutError):
        await connector.run(command, timeout=0.5)
    assert cleaned.read_text() == "done\n"  # its TERM handler ran: no KILL at once
    assert time.monotonic() - started < 10.0 + SLACK
    await connector.close()


async def test_a_command_ignoring_term_is_killed_after_the_grace(tmp_path: Path) -> None:
    alive = tmp_path / "alive"
    connector = LocalConnector("here")
    connector.stop_grace = 1.0
    command = f"trap '' TERM; while :; do date +%s%N > {alive}; sleep 0.1; done"
    started = time.monotonic()
    with pytest.raises(CommandTimeoutError) as caught:
        await connector.run(command, timeout=0.5)
    elapsed = time.monotonic() - started
    assert caught.value.killed
    assert elapsed >= 1.0  # it had its grace
    assert elapsed < 1.5 + SLACK
    last = alive.read_text()
    await asyncio.sleep(0.5)
    assert alive.read_text() == last  # and is gone


async def test_commands_record_their_process_group_when_asked(tmp_path: Path) -> None:
    log = tmp_path / "run.pgids"
    connector = LocalConnector("here")
    connector.process_group_log = str(log)
    result = await connector.must_run("echo $$; set -- ; echo $#")
    pgid, count = result.stdout.split()
    assert count == "0"
    ((recorded_pgid, start),) = [line.split() for line in log.read_text().splitlines()]
    assert recorded_pgid == pgid
    assert start.isdigit()


def test_kill_command_terminates_before_killing() -> None:
    script = kill_group_command(42, 3.0)
    assert script.index("TERM") < script.index("KILL")
    assert "n=30" in script
