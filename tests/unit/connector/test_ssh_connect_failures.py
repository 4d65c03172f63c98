"""SSH connection failures against loopback listeners that misbehave on purpose."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from kubexms.connector import (
    AuthenticationError,
    HostConnectionError,
    SSHClientSettings,
    SSHConnector,
    SSHEndpoint,
)

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _listen(handler: Handler) -> AsyncIterator[int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


@pytest.fixture
async def silent_port() -> AsyncIterator[int]:
    """Accepts TCP and never says a word, like a wedged sshd."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    async for port in _listen(hold):
        yield port
    for writer in held:
        writer.close()


@pytest.fixture
async def hanging_up_port() -> AsyncIterator[int]:
    """Accepts TCP and closes it at once."""

    async def hang_up(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    async for port in _listen(hang_up):
        yield port


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _connector(port: int, tmp_path: Path, *, connect_timeout: float = 30.0) -> SSHConnector:
    endpoint = SSHEndpoint("127.0.0.1", port, "root", password="unused")
    options = SSHClientSettings(
        known_hosts_path=tmp_path / "known_hosts", connect_timeout=connect_timeout
    )
    return SSHConnector("node1", endpoint, options)


async def test_connect_timeout_bounds_a_silent_server(silent_port: int, tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(HostConnectionError, match=r"timed out after 1s") as caught:
        await _connector(silent_port, tmp_path, connect_timeout=1).connect()
    assert time.monotonic() - started < 10
    assert caught.value.retryable
    assert f"127.0.0.1:{silent_port}" in str(caught.value)


async def test_server_hanging_up_is_retryable(hanging_up_port: int, tmp_path: Path) -> None:
    with pytest.raises(HostConnectionError) as caught:
        await _connector(hanging_up_port, tmp_path, connect_timeout=5).connect()
    assert caught.value.retryable
    assert f"127.0.0.1:{hanging_up_port}" in str(caught.value)


async def test_closed_port_is_refused(tmp_path: Path) -> None:
    port = _closed_port()
    with pytest.raises(HostConnectionError, match="refused the connection"):
        await _connector(port, tmp_path).connect()


async def test_unreadable_key_file_is_an_authentication_error(tmp_path: Path) -> None:
    endpoint = SSHEndpoint("127.0.0.1", _closed_port(), private_key_path=tmp_path / "missing")
    connector = SSHConnector("node1", endpoint, SSHClientSettings())
    with pytest.raises(AuthenticationError, match=r"the private key .*missing cannot be used"):
        await connector.connect()
    garbage = SSHEndpoint("127.0.0.1", 22, private_key="-----BEGIN NONSENSE-----")
    with pytest.raises(AuthenticationError, match="inline private key cannot be used"):
        await SSHConnector("node1", garbage, SSHClientSettings()).connect()
