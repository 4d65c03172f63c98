"""A host whose connection was lost gets one short reconnect attempt, not a full timeout.

Before, the clean-up after a lost host (killing its command, releasing its lock) dialled it
again with the whole connect timeout (30 s each), and the run took minutes to fail.
"""

from __future__ import annotations

from typing import Any

import asyncssh

from kubexms.connector import SSHClientSettings, SSHConnector, SSHEndpoint
from kubexms.connector._ssh import LOST_RECONNECT_TIMEOUT
from kubexms.runtime._connectors import ConnectorBuilder
from kubexms.testing import cluster_of


class FakeConnection:
    def __init__(self) -> None:
        self.closed = False

    def is_closed(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    async def wait_closed(self) -> None:
        return None


class RecordingSettings(SSHClientSettings):
    """Hands out fake connections and records the timeout each dial was given."""

    def __init__(self) -> None:
        super().__init__(connect_timeout=30.0)
        self.timeouts: list[float | None] = []
        self.made: list[FakeConnection] = []

    async def connect(
        self, endpoint: SSHEndpoint, *, host: str, tunnel: Any = None, timeout: float | None = None
    ) -> asyncssh.SSHClientConnection:
        self.timeouts.append(timeout)
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
