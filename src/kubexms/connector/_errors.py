"""Typed connector errors: each says whether retrying could help."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kubexms._errors import KubexmsError

if TYPE_CHECKING:
    from kubexms.connector._base import CommandResult


class ConnectorError(KubexmsError):
    """Something went wrong talking to one host."""

    def __init__(self, host: str, message: str) -> None:
        super().__init__(f"{host}: {message}")
        self.host = host
        self.reason = message


class HostConnectionError(ConnectorError):
    """The host could not be reached, or the connection dropped. Worth retrying."""

    retryable = True
    label = "unreachable"


class ConnectTimeoutError(HostConnectionError):
    """The host did not answer (TCP or SSH handshake) within the connection timeout."""

    label = "timed out"


class HostLostError(HostConnectionError):
    """A connection that was lost did not come back at one short reconnect attempt.

    The host counts as gone for the rest of the run: its message is the first error (how the
    connection was lost), and every later operation on it (retries, clean-up, lock release)
    fails at once with it rather than dialling again. Not retried.
    """

    retryable = False
    label = "lost"

    def __init__(self, host: str, first: ConnectorError, reconnect: ConnectorError) -> None:
        again = reconnect.reason.rstrip(".")
        super().__init__(host, f"{first.reason.rstrip('.')}; it did not come back ({again}).")
        self.first = first
        self.reconnect = reconnect

    def again(self) -> HostLostError:
        """A fresh error with the same message, for the next operation that needs the host."""
        return HostLostError(self.host, self.first, self.reconnect)


class AuthenticationError(ConnectorError):
    """The host refused our credentials. Retrying with the same ones cannot help."""

    label = "authentication failed"


class HostKeyError(ConnectorError):
    """The host's key is unknown or does not match known_hosts. Never retried."""

    label = "host key not trusted"


class HostKeyChangedError(HostKeyError):
    """The host presents a key (or only key types) other than the ones recorded for it."""

    label = "host key changed"


class SudoError(AuthenticationError):
    """sudo refused to elevate: wrong or missing password, or the user may not use sudo."""

    label = "sudo refused"


class CommandTimeoutError(ConnectorError):
    """A command ran past its timeout; the remote process has been killed."""

    retryable = True
    label = "timed out"

    def __init__(self, host: str, command: str, timeout: float, *, killed: bool = True) -> None:
        outcome = "was killed" if killed else "could NOT be confirmed killed"
        super().__init__(host, f"command timed out after {timeout:g}s and {outcome}: {command}")
        self.command = command
        self.timeout = timeout
        self.killed = killed


class CommandFailedError(ConnectorError):
    """A command exited non-zero. Exit code and output are kept for the user."""

    label = "command failed"

    def __init__(self, host: str, result: CommandResult) -> None:
        tail = (result.stderr or result.stdout).strip().splitlines()[-5:]
        detail = "\n  ".join(tail)
        message = f"command exited {result.exit_code}: {result.command}"
        if detail:
            message += f"\n  {detail}"
        super().__init__(host, message)
        self.result = result


class FileTransferError(ConnectorError):
    """A put or get could not be completed (missing path, permissions, disk full)."""

    label = "transfer failed"
