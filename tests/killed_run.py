"""A `kubexms create cluster` killed half way (SIGKILL, by its PID: no clean-up of its own),
for the e2es that build a cluster: wait until its event log shows a step started, kill it,
then check that the run that finishes it left nothing half-done on the hosts."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import pytest

# Where kubexms writes on a host: a file replaced atomically goes through a temporary name in
# its directory (``.<name>.kubexms-<token>``, ``.kubexms-link-<pid>``); a run's own temporary
# files live in /var/tmp/kubexms/run-<id>; its lock and process-group log in /run/lock; a
# restart recorded but not yet made in /var/lib/kubexms/*-pending.
LEFTOVERS = r"""
find /etc /usr/local/bin /var/lib/kubelet /var/lib/kubexms -xdev \
  \( -name '.*.kubexms-*' -o -name '.kubexms-link-*' \) 2>/dev/null
ls -d /var/tmp/kubexms/run-* /run/lock/kubexms.lock* /var/lib/kubexms/*-pending/* 2>/dev/null
true
"""


def started(work: Path, prefix: str) -> bool:
    """Whether the run's event log (``<workDir>/runs``) shows a step under ``prefix`` started
    on a host."""
    for log in (work / "runs").glob("*.jsonl"):
        for line in log.read_text().splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue  # the line being written
            if event.get("event") == "started" and str(event.get("node", "")).startswith(prefix):
                return True
    return False


async def kill_when_started(
    process: asyncio.subprocess.Process,
    work: Path,
    prefix: str,
    seconds: float,
    *,
    after: float = 0.0,
) -> None:
    """SIGKILL ``process`` ``after`` seconds once a step under ``prefix``
    (``create-cluster/control-plane/join-node02/``) has started (its remote command then runs);
    fails the test if the run ends or never gets there."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not started(work, prefix):
        if process.returncode is not None:
            _, err = await process.communicate()
            pytest.fail(f"the run ended ({process.returncode}) before {prefix}: {err.decode()}")
        if loop.time() > deadline:
            process.kill()
            pytest.fail(f"the run never reached {prefix} within {seconds:g}s")
        await asyncio.sleep(0.2)
    await asyncio.sleep(after)
    if process.returncode is not None:
        pytest.fail(f"the run ended ({process.returncode}) before it could be killed")
    process.send_signal(signal.SIGKILL)
    await process.communicate()


async def assert_nothing_half_done(
    hosts: Sequence[str], run: Callable[[str, str], Awaitable[str]]
) -> None:
    """No temporary file beside a placed one, no run directory and no lock left on any host
    (``run(host, command)`` returns the command's stdout)."""
    left = {name: (await run(name, LEFTOVERS)).split() for name in hosts}
    assert not any(left.values()), left
