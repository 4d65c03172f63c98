"""Hosts behind one bastion share one connection, closed with its last user."""

from __future__ import annotations

import asyncio
from typing import cast

import asyncssh
import pytest

from kubexms.connector import HostConnectionError, SSHEndpoint
from kubexms.connector._bastion import BastionPool


class FakeConnection:
    """Stands in for asyncssh.SSHClientConnection: only what the pool touches."""

    def __init__(self) -> None:
        self.closed = False

    def is_closed(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    async def wait_closed(self) -> None:
        return None


class Opener:
    def __init__(self, *, fail: int = 0) -> None:
        self.calls: list[str] = []
        self.made: list[FakeConnection] = []
        self.fail = fail

    async def __call__(
        self,
        endpoint: SSHEndpoint,
        *,
        host: str,
        tunnel: asyncssh.SSHClientConnection | None = None,
    ) -> asyncssh.SSHClientConnection:
        self.calls.append(host)
        await asyncio.sleep(0.01)
        if self.fail:
            self.fail -= 1
            raise HostConnectionError(host, f"{endpoint.label} refused the connection.")
        self.made.append(FakeConnection())
        return cast(asyncssh.SSHClientConnection, self.made[-1])


JUMP = SSHEndpoint("10.213.0.11", 22, "root", password="pw")


async def test_concurrent_hosts_share_one_connection_until_the_last_release() -> None:
    opener = Opener()
    pool = BastionPool(opener)
    leases = await asyncio.gather(*(pool.acquire(JUMP, host=f"node{i}") for i in range(50)))
    assert opener.calls == ["bastion 10.213.0.11:22"]
    assert len({id(lease.connection) for lease in leases}) == 1
    assert pool.open_count == 1
    for lease in leases[:-1]:
        await pool.release(lease)
    assert not opener.made[0].closed
    await pool.release(leases[-1])
    assert opener.made[0].closed
    assert pool.open_count == 0


async def test_different_credentials_are_different_bastions() -> None:
    opener = Opener()
    pool = BastionPool(opener)
    other = SSHEndpoint("10.213.0.11", 22, "ops", password="pw")
    first, second = await pool.acquire(JUMP, host="a"), await pool.acquire(other, host="b")
    assert first.connection is not second.connection
    await pool.release(first)
    await pool.release(second)


async def test_a_failed_bastion_is_reported_per_host_and_retried_later() -> None:
    opener = Opener(fail=1)
    pool = BastionPool(opener)
    results = await asyncio.gather(
        pool.acquire(JUMP, host="node2"), pool.acquire(JUMP, host="node3"), return_exceptions=True
    )
    assert len(opener.calls) == 1
    for result, host in zip(results, ["node2", "node3"], strict=True):
        assert isinstance(result, HostConnectionError)
        assert result.host == host
        assert str(result) == (
            f"{host}: the bastion 10.213.0.11:22 failed: 10.213.0.11:22 refused the connection."
        )
    assert pool.open_count == 0
    lease = await pool.acquire(JUMP, host="node2")
    assert len(opener.calls) == 2
    await pool.release(lease)


async def test_a_dropped_bastion_is_reopened_for_new_users() -> None:
    opener = Opener()
    pool = BastionPool(opener)
    old = await pool.acquire(JUMP, host="a")
    opener.made[0].closed = True  # the bastion went away under us
    new = await pool.acquire(JUMP, host="b")
    assert new.connection is not old.connection
    await pool.release(old)
    assert not opener.made[1].closed
    await pool.release(new)
    assert opener.made[1].closed


async def test_cancelled_waiter_gives_back_its_hold() -> None:
    opener = Opener()
    pool = BastionPool(opener)
    waiter = asyncio.ensure_future(pool.acquire(JUMP, host="a"))
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert pool.open_count == 0
