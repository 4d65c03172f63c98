"""Connectors: transport to one host (local subprocesses or SSH)."""

from kubexms.connector._base import CommandResult, Connector
from kubexms.connector._errors import (
    AuthenticationError,
    CommandFailedError,
    CommandTimeoutError,
    ConnectorError,
    HostConnectionError,
    HostKeyError,
)

__all__ = [
    "AuthenticationError",
    "CommandFailedError",
    "CommandResult",
    "CommandTimeoutError",
    "Connector",
    "ConnectorError",
    "HostConnectionError",
    "HostKeyError",
]
