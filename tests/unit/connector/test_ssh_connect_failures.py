"""SSH connection failures against loopback listeners that misbehave on purpose."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncssh
import pytest

from kubexms import KubexmsError
from kubexms.connector import (
    AuthenticationError,
    ConnectTimeoutError,
    HostConnectionError,
    HostKeyChangedError,
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
    with pytest.raises(ConnectTimeoutError, match=r"timed out after 1s") as caught:
        await _connector(silent_port, tmp_path, connect_timeout=1).connect()
    assert time.monotonic() - started < 10
    assert caught.value.retryable
    assert caught.value.label == "timed out"
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


class _AnyLogin(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return True


async def test_a_host_key_of_another_type_is_a_changed_host_key(tmp_path: Path) -> None:
    # known_hosts holds an ed25519 key; the host now has only an ECDSA one. asyncssh offers
    # only recorded key types, so the key exchange fails: that must not read as a network fault.
    offered = asyncssh.generate_private_key("ecdsa-sha2-nistp256")
    recorded = asyncssh.generate_private_key("ssh-ed25519")
    server = await asyncssh.create_server(_AnyLogin, "127.0.0.1", 0, server_host_keys=[offered])
    try:
        port = server.sockets[0].getsockname()[1]
        line = f"[127.0.0.1]:{port} {recorded.export_public_key().decode()}"
        (tmp_path / "known_hosts").write_text(line)
        with pytest.raises(HostKeyChangedError) as caught:
            await _connector(port, tmp_path, connect_timeout=5).connect()
    finally:
        server.close()
        await server.wait_closed()
    error = caught.value
    assert isinstance(error, KubexmsError)
    assert not error.retryable
    assert error.label == "host key changed"
    assert "now has a ecdsa-sha2-nistp256 host key" in str(error)
    assert "records only ssh-ed25519" in str(error)
    assert f"ssh-keygen -R '[127.0.0.1]:{port}'" in str(error)
