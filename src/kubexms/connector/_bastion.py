"""One connection per bastion, shared by every host behind it and closed with its last user."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import asyncssh

from kubexms.connector._errors import CommandTimeoutError, ConnectorError

if TYPE_CHECKING:
    from kubexms.connector._ssh_settings import SSHEndpoint


class _Opener(Protocol):
    def __call__(
        self,
        endpoint: SSHEndpoint,
        *,
        host: str,
        tunnel: asyncssh.SSHClientConnection | None = None,
    ) -> Awaitable[asyncssh.SSHClientConnection]: ...


@dataclass(eq=False)
class BastionLease:
    """One host's hold on a shared bastion connection; give it back with ``release``."""

    endpoint: SSHEndpoint
    opening: asyncio.Future[asyncssh.SSHClientConnection]
    users: int = 0

    @property
    def connection(self) -> asyncssh.SSHClientConnection:
        return self.opening.result()

    def usable(self) -> bool:
        if not self.opening.done():
            return True
        return (
            not self.opening.cancelled()
            and self.opening.exception() is None
            and not (self.opening.result().is_closed())
        )


class BastionPool:
    """Reference-counted bastion connections keyed by endpoint (address, port, user, creds)."""

    def __init__(self, opener: _Opener) -> None:
        self._open = opener
        self._entries: dict[SSHEndpoint, BastionLease] = {}

    @property
    def open_count(self) -> int:
        """Bastion connections currently held (for tests and diagnostics)."""
        return len(self._entries)

    async def acquire(self, endpoint: SSHEndpoint, *, host: str) -> BastionLease:
        """Return the shared connection to ``endpoint``, opening it if needed.

        Errors name ``host`` and say the bastion is what failed.
        """
        entry = self._entries.get(endpoint)
        if entry is None or not entry.usable():
            label = f"bastion {endpoint.label}"
            opening = asyncio.ensure_future(self._open(endpoint, host=label))
            entry = BastionLease(endpoint, opening)
            self._entries[endpoint] = entry
        entry.users += 1
        try:
            await asyncio.shield(entry.opening)
        except ConnectorError as exc:
            self._drop_user(entry)
            raise _for_host(exc, host, endpoint) from None
        except BaseException:
            self._drop_user(entry)
            raise
        return entry

    async def release(self, lease: BastionLease) -> None:
        """Give back one hold; the last one closes the bastion connection."""
        conn = self._drop_user(lease)
        if conn is not None:
            conn.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.wait_closed(), 5)

    def _drop_user(self, entry: BastionLease) -> asyncssh.SSHClientConnection | None:
        entry.users -= 1
        if entry.users > 0:
            return None
        if self._entries.get(entry.endpoint) is entry:
            del self._entries[entry.endpoint]
        if not entry.opening.done():
            entry.opening.cancel()
            return None
        if entry.opening.cancelled() or entry.opening.exception() is not None:
            return None
        return entry.opening.result()


def _for_host(exc: ConnectorError, host: str, endpoint: SSHEndpoint) -> ConnectorError:
    """Re-issue the bastion's error under the name of the host that needed it."""
    if isinstance(exc, CommandTimeoutError):
        return exc
    message = f"the bastion {endpoint.label} failed: {exc.reason}"
    return type(exc)(host, message)
