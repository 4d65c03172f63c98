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
# its directory (``.<name>.kubexms-<token>``, ``.kubexms-link-<pid>``); a run's lock and
# process-group log are in /run/lock; a restart recorded but not yet made in
# /var/lib/kubexms/*-pending; its own temporary files in /var/tmp/kubexms/run-<run id> (only
# this test's runs are looked for: a host's /var shows this machine's through its overlay).
LEFTOVERS = r"""
find /etc /usr/local/bin /var/lib/kubelet /var/lib/kubexms -xdev \
  \( -name '.*.kubexms-*' -o -name '.kubexms-link-*' \) 2>/dev/null
ls -d /run/lock/kubexms.lock* /var/lib/kubexms/*-pending/* {run_dirs} 2>/dev/null
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


def run_ids(work: Path) -> list[str]:
    """The ids of the runs whose event logs are in ``<workDir>/runs``
    (``<time>-<pipeline>-<run id>.jsonl``)."""
    return sorted(log.stem.rsplit("-", 1)[1] for log in (work / "runs").glob("*.jsonl"))


async def assert_nothing_half_done(
    hosts: Sequence[str], run: Callable[[str, str], Awaitable[str]], work: Path
) -> None:
    """No temporary file beside a placed one, no lock, no pending restart and no directory of
    the runs logged in ``work`` left on any host (``run(host, command)``: its stdout)."""
    run_dirs = " ".join(f"/var/tmp/kubexms/run-{run_id}" for run_id in run_ids(work))
    script = LEFTOVERS.format(run_dirs=run_dirs)
    left = {name: (await run(name, script)).split() for name in hosts}
    assert not any(left.values()), left


async def finish_within(process: asyncio.subprocess.Process, bound: float) -> tuple[int, str, str]:
    """The run's exit code and output; past ``bound`` seconds it is killed (a hang must not
    hold the hosts' locks for what comes after it) and the test fails."""
    try:
        out, err = await asyncio.wait_for(process.communicate(), bound)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"the run did not end within {bound:g} s") from None
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()
