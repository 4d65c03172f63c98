"""Translate asyncssh and socket failures into the connector's typed errors."""

from __future__ import annotations

import errno
import socket

import asyncssh

from kubexms.connector._errors import (
    AuthenticationError,
    ConnectorError,
    ConnectTimeoutError,
    FileTransferError,
    HostConnectionError,
    HostKeyError,
)

_SOCKET_FAILURES = {
    errno.EHOSTUNREACH: "cannot reach {target}: the host is unreachable",
    errno.ENETUNREACH: "cannot reach {target}: the network is unreachable",
    errno.ETIMEDOUT: "the connection to {target} timed out",
    errno.ECONNRESET: "{target} reset the connection",
    errno.EPIPE: "the connection to {target} was closed",
}


def connection_error(
    host: str,
    target: str,
    exc: BaseException,
    *,
    timeout: float | None = None,
    tunnel: bool = False,
) -> ConnectorError:
    """Map a failure to open or use an SSH connection to ``target`` (``address:port``).

    ``host`` is the inventory name the error is about; ``target`` names what was dialled,
    e.g. ``10.0.0.5:22`` or ``bastion 10.0.0.1:22``; ``tunnel`` says it was dialled through a
    bastion, so a refused channel means the bastion could not reach it.
    """
    reason = str(exc).strip() or type(exc).__name__
    if isinstance(exc, asyncssh.PermissionDenied):
        return AuthenticationError(host, f"{target} rejected our credentials ({reason}).")
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        return HostKeyError(host, f"the host key of {target} could not be verified: {reason}.")
    if isinstance(exc, asyncssh.KeyImportError):
        return AuthenticationError(host, f"the private key for {target} is unusable: {reason}.")
    if isinstance(exc, asyncssh.ChannelOpenError) and tunnel:
        return HostConnectionError(
            host, f"the bastion could not open a tunnel to {target}: {reason}."
        )
    if isinstance(exc, asyncssh.ChannelOpenError) and reason == "SSH connection closed":
        # asyncssh's answer to a channel opened on a connection that is being torn down; the
        # cause (a keepalive timeout, a reset) reaches the commands already running.
        return HostConnectionError(host, f"the connection to {target} was lost.")
    if isinstance(exc, asyncssh.ChannelOpenError):
        return HostConnectionError(host, f"{target} refused to open an SSH channel: {reason}.")
    if isinstance(exc, asyncssh.ConnectionLost):
        return HostConnectionError(host, f"the connection to {target} was lost: {reason}.")
    if isinstance(exc, (asyncssh.KeyExchangeFailed, asyncssh.ProtocolNotSupported)):
        return ConnectorError(host, f"SSH negotiation with {target} failed: {reason}.")
    if isinstance(exc, asyncssh.DisconnectError):
        return HostConnectionError(host, f"{target} closed the connection: {reason}.")
    if isinstance(exc, TimeoutError):
        after = f" after {timeout:g}s" if timeout is not None else ""
        return ConnectTimeoutError(host, f"connecting to {target} timed out{after}.")
    if isinstance(exc, ConnectionRefusedError):
        return HostConnectionError(host, f"{target} refused the connection (nothing listening?).")
    if isinstance(exc, socket.gaierror):
        return HostConnectionError(
            host, f"the address of {target} could not be resolved: {reason}."
        )
    if isinstance(exc, OSError):
        template = _SOCKET_FAILURES.get(exc.errno or 0, "cannot reach {target}: {reason}")
        return HostConnectionError(host, template.format(target=target, reason=reason) + ".")
    return ConnectorError(host, f"SSH to {target} failed: {reason}.")


def sftp_error(host: str, action: str, exc: BaseException, target: str) -> ConnectorError:
    """Map an SFTP failure during ``action`` (e.g. "write /etc/x") to a typed error."""
    if isinstance(exc, asyncssh.SFTPError):
        return FileTransferError(host, f"could not {action}: {exc.reason}.")
    if isinstance(exc, (asyncssh.DisconnectError, asyncssh.ChannelOpenError, OSError)):
        return connection_error(host, target, exc)
    return FileTransferError(host, f"could not {action}: {exc}.")


CONNECTION_FAILURES: tuple[type[BaseException], ...] = (
    asyncssh.DisconnectError,
    asyncssh.ChannelOpenError,
    asyncssh.KeyImportError,
    OSError,
    TimeoutError,
)
