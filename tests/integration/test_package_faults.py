"""runner.packages against a package manager another process holds, or left half done.

A previous attempt's dpkg (kubexms killed, connection dropped) still holds the dpkg lock, or
stopped after unpacking: the next attempt waits for the lock (bounded), says "locked" as a
retryable error when it stays taken, and finishes the transaction, saying what it configured.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from kubexms.runner import PackageManagerLockedError
from tests.integration.test_runner_packages import PACKAGE, absent, hello_deb  # noqa: F401
from tests.integration.test_runner_support import host_runner, on_host
from tests.leasing import HostLease, LeaseHosts

pytestmark = pytest.mark.fleet

# Holds dpkg's frontend lock the way dpkg does (fcntl), for SECONDS.
HOLD_LOCK = (
    "python3 -c 'import fcntl, sys, time\n"
    'f = open("/var/lib/dpkg/lock-frontend", "w")\n'
    "fcntl.lockf(f, fcntl.LOCK_EX)\n"
    'print("held", flush=True)\n'
    "time.sleep(float(sys.argv[1]))' {seconds}"
)


async def unpacked(hosts: HostLease, deb: Path) -> None:
    """``hello`` unpacked but not configured: what a KILL in the middle of dpkg leaves."""
    data = await asyncio.to_thread(deb.read_bytes)
    code, _, err = await hosts.exec(hosts[0], f"cat > /tmp/{deb.name}", stdin=data)
    assert code == 0, err
    await on_host(hosts, f"dpkg --unpack /tmp/{deb.name} >/dev/null 2>&1 && rm /tmp/{deb.name}")
    status = await on_host(hosts, f"dpkg-query -W -f='${{db:Status-Abbrev}}' {PACKAGE}")
    assert status.startswith("iU"), status


async def hold_lock(hosts: HostLease, seconds: float) -> asyncio.Task[object]:
    task = asyncio.ensure_future(hosts.exec(hosts[0], HOLD_LOCK.format(seconds=seconds)))
    deadline = time.monotonic() + 60
    while True:  # until the holder has the lock
        code, _, _ = await hosts.exec(hosts[0], "fuser /var/lib/dpkg/lock-frontend")
        if code == 0:
            return task
        assert time.monotonic() < deadline, "the lock holder never took the lock"
        await asyncio.sleep(0.1)


async def test_repair_waits_for_the_lock_then_configures_and_says_so(
    lease: LeaseHosts,
    hello_deb: Path,  # noqa: F811
) -> None:
    hosts = lease(1)
    await absent(hosts)
    async with host_runner(hosts, "root") as runner:
        try:
            await unpacked(hosts, hello_deb)
            holder = await hold_lock(hosts, 3)
            started = time.monotonic()
            change = await runner.packages.repair(lock_wait=120)
            assert time.monotonic() - started >= 1.0  # it waited for the holder
            await holder
            assert change.changed
            assert change.detail == f"configured {PACKAGE}"
            assert (await on_host(hosts, "dpkg --audit")).strip() == ""
            assert not (await runner.packages.repair()).changed  # nothing left to repair
        finally:
            await absent(hosts)


async def test_a_lock_that_stays_taken_is_a_retryable_error(
    lease: LeaseHosts,
    hello_deb: Path,  # noqa: F811
) -> None:
    hosts = lease(1)
    await absent(hosts)
    async with host_runner(hosts, "root") as runner:
        try:
            await unpacked(hosts, hello_deb)
            holder = await hold_lock(hosts, 8)
            with pytest.raises(PackageManagerLockedError) as caught:
                await runner.packages.repair(lock_wait=2)
            assert caught.value.retryable
            assert "locked by another process" in str(caught.value)
            await holder  # the holder lets go; the host is repaired for the next test
            assert (await runner.packages.repair()).changed
        finally:
            await absent(hosts)
