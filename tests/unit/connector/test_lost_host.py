"""A host whose connection was lost gets one short reconnect attempt, not a full timeout.

Before, the clean-up after a lost host (killing its command, releasing its lock) dialled it
again with the whole connect timeout (30 s each), and the run took minutes to fail.
"""

from __future__ import annotations

from typing import Any

import asyncssh
import pytest

from kubexms.connector import (
    ConnectTimeoutError,
    HostConnectionError,
    HostLostError,
    SSHClientSettings,
    SSHConnector,
    SSHEndpoint,
)
from kubexms.connector._ssh import LOST_RECONNECT_TIMEOUT
from kubexms.connector._ssh_errors import connection_error
from kubexms.connector._ssh_settings import _Client
from kubexms.runtime._connectors import ConnectorBuilder
from kubexms.testing import cluster_of


class FakeConnection:
    def __init__(self) -> None:
        self.closed = False
        self.owner = _Client()  # what asyncssh's client_factory made for this connection

    def get_owner(self) -> _Client | None:
        return None if self.closed else self.owner  # asyncssh forgets it once closed

    def is_closed(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    async def wait_closed(self) -> None:
        return None


class RecordingSettings(SSHClientSettings):
    """Hands out fake connections and records the timeout each dial was given."""

    def __init__(self, **options: Any) -> None:
        super().__init__(connect_timeout=30.0, **options)
        self.timeouts: list[float | None] = []
        self.made: list[FakeConnection] = []
        self.answering = True  # False: dials time out, as at a host whose packets are dropped
        self.refusing = 0  # dials refused (sshd restarting) before one gets through

    async def connect(
        self, endpoint: SSHEndpoint, *, host: str, tunnel: Any = None, timeout: float | None = None
    ) -> asyncssh.SSHClientConnection:
        self.timeouts.append(timeout)
        if self.refusing:
            self.refusing -= 1
            raise HostConnectionError(host, f"{endpoint.label} refused the connection.")
        if not self.answering:
            raise ConnectTimeoutError(
                host, f"connecting to {endpoint.label} timed out after {timeout:g}s."
            )
        self.made.append(FakeConnection())
        return self.made[-1]  # type: ignore[return-value]


async def test_reconnecting_after_a_lost_connection_is_one_short_attempt() -> None:
    settings = RecordingSettings()
    connector = SSHConnector("node1", SSHEndpoint("192.0.2.1"), settings)
    await connector.connect()
    assert settings.timeouts == [None]  # the first dial gets the configured timeout
    settings.made[-1].closed = True  # the connection broke under us (keepalive, reset)
    await connector.connection()
    assert settings.timeouts == [None, LOST_RECONNECT_TIMEOUT]
    assert LOST_RECONNECT_TIMEOUT <= 5.0
    await connector.connection()  # a healthy connection again: no new dial
    assert len(settings.timeouts) == 2
    await connector.close()
    await connector.connect()  # closed by us is not lost: a full attempt
    assert settings.timeouts[-1] is None


def test_keepalive_and_stop_grace_come_from_the_cluster_file() -> None:
    config = cluster_of(
        1, extra_spec={"global": {"keepaliveInterval": 2, "keepaliveCountMax": 4, "stopGrace": 7}}
    )
    builder = ConnectorBuilder(config)
    connector = builder.build(config.resolved_hosts()[0])
    assert isinstance(connector, SSHConnector)
    assert connector.settings.keepalive_interval == 2
    assert connector.settings.keepalive_count_max == 4
    assert connector.stop_grace == 7


async def test_a_lost_host_that_does_not_come_back_fails_at_once_with_the_first_error() -> None:
    settings = RecordingSettings()
    connector = SSHConnector("node1", SSHEndpoint("192.0.2.1"), settings)
    await connector.connect()
    # A command saw the connection go (the keepalive gave up); then the host stays silent.
    connector.note_lost(
        HostConnectionError("node1", "the connection to 192.0.2.1:22 was lost: Keepalive timeout.")
    )
    settings.made[-1].closed = True
    settings.answering = False
    with pytest.raises(HostLostError) as lost:
        await connector.connection()
    message = str(lost.value)
    assert message.startswith("node1: the connection to 192.0.2.1:22 was lost: Keepalive timeout")
    assert "it did not come back (connecting to 192.0.2.1:22 timed out after 5s)" in message
    assert not lost.value.retryable  # retrying a gone host only costs time
    dials = len(settings.timeouts)
    for _ in range(3):  # retries, kills, lock release: no further dial, the same first error
        with pytest.raises(HostLostError) as again:
            await connector.run("true")
        assert str(again.value) == message
    assert len(settings.timeouts) == dials
    await connector.close()  # closed by us: a later connect is a fresh, full attempt
    settings.answering = True
    await connector.connect()
    assert settings.timeouts[-1] is None


async def test_a_reconnect_that_works_forgets_the_loss() -> None:
    settings = RecordingSettings()
    connector = SSHConnector("node1", SSHEndpoint("192.0.2.1"), settings)
    await connector.connect()
    connector.note_lost(HostConnectionError("node1", "the first loss."))
    settings.made[-1].closed = True
    await connector.connection()  # the host answered the short attempt
    settings.made[-1].closed = True  # a second, later loss is a new one with its own attempt
    settings.answering = False
    with pytest.raises(HostLostError) as lost:
        await connector.connection()
    assert "first loss" not in str(lost.value)
    assert "the connection to 192.0.2.1:22 was lost; it did not come back" in str(lost.value)


def test_the_reconnect_attempt_never_outlasts_the_keepalive_window() -> None:
    quick = SSHConnector(
        "node1",
        SSHEndpoint("192.0.2.1"),
        RecordingSettings(keepalive_interval=1.0, keepalive_count_max=1),
    )
    assert quick.reconnect_timeout() == 2.0  # 1 s x (1 + 1): silent for two keepalives
    default = SSHConnector("node1", SSHEndpoint("192.0.2.1"), RecordingSettings())
    assert default.reconnect_timeout() == LOST_RECONNECT_TIMEOUT


async def test_the_first_error_that_says_how_the_connection_went_is_kept() -> None:
    settings = RecordingSettings()
    connector = SSHConnector("node1", SSHEndpoint("192.0.2.1"), settings)
    await connector.connect()
    # A channel opened while asyncssh tears the connection down learns only that it closed;
    # the keepalive's verdict reaches the command already running a moment later.
    connector.note_lost(HostConnectionError("node1", "the connection to 192.0.2.1:22 was lost."))
    keepalive = "the connection to 192.0.2.1:22 was lost: Server not responding to keepalive."
    connector.note_lost(HostConnectionError("node1", keepalive))
    connector.note_lost(HostConnectionError("node1", "192.0.2.1:22 reset the connection."))
    settings.made[-1].closed = True
    settings.answering = False
    with pytest.raises(HostLostError) as lost:
        await connector.connection()
    assert str(lost.value).startswith(f"node1: {keepalive.rstrip('.')}; it did not come back")


def test_a_channel_refused_by_a_closing_connection_is_a_lost_connection() -> None:
    closing = asyncssh.ChannelOpenError(asyncssh.OPEN_CONNECT_FAILED, "SSH connection closed")
    error = connection_error("node1", "192.0.2.1:22", closing)
    assert str(error) == "node1: the connection to 192.0.2.1:22 was lost."


async def test_why_asyncssh_closed_the_connection_is_the_first_error() -> None:
    settings = RecordingSettings()
    connector = SSHConnector("node1", SSHEndpoint("192.0.2.1"), settings)
    await connector.connect()
    # No command was running: only the connection's owner hears why it closed.
    settings.made[-1].owner.connection_lost(
        asyncssh.ConnectionLost("Server not responding to keepalive")
    )
    settings.made[-1].closed = True
    settings.answering = False
    with pytest.raises(HostLostError) as lost:
        await connector.connection()
    assert str(lost.value).startswith(
        "node1: the connection to 192.0.2.1:22 was lost: Server not responding to keepalive;"
    )


async def test_a_restarting_sshd_is_dialled_again_within_the_short_attempt() -> None:
    settings = RecordingSettings()
    connector = SSHConnector("node1", SSHEndpoint("192.0.2.1"), settings)
    await connector.connect()
    settings.made[-1].closed = True
    settings.refusing = 2  # sshd was killed; it listens again a second later
    await connector.connection()
    assert len(settings.timeouts) == 4  # the first dial, two refused, one through
    assert all(timeout is not None and timeout <= 5.0 for timeout in settings.timeouts[1:])
    settings.made[-1].closed = True
    settings.refusing = 100  # sshd does not come back: gone once the short attempt is over
    with pytest.raises(HostLostError) as lost:
        await connector.connection()
    assert "refused the connection" in str(lost.value)
    assert len(settings.timeouts) < 4 + 12
