"""runner.network: listening-port checks read /proc/net of the host (here: this machine)."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from kubexms.runner import PortWaitTimeoutError, Runner


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_is_port_open(runner: Runner) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert await runner.network.is_port_open(port)
    assert not await runner.network.is_port_open(port)


async def test_wait_for_port_sees_a_late_listener(runner: Runner) -> None:
    port = free_port()
    server = socket.socket()

    async def listen_later() -> None:
        await asyncio.sleep(0.6)
        server.bind(("127.0.0.1", port))
        server.listen()

    with server:
        late = asyncio.create_task(listen_later())
        await runner.network.wait_for_port(port, timeout=10, interval=0.1)
        await late


async def test_wait_for_port_times_out(runner: Runner) -> None:
    started = time.monotonic()
    with pytest.raises(PortWaitTimeoutError, match=r"after 0\.5s"):
        await runner.network.wait_for_port(free_port(), timeout=0.5, interval=0.1)
    assert time.monotonic() - started < 5


async def test_bad_port_is_refused(runner: Runner) -> None:
    with pytest.raises(ValueError, match="outside"):
        await runner.network.is_port_open(70000)
