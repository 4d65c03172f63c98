"""Connectors: transport to one host, local subprocesses or SSH (in memory: kubexms.testing)."""

# First: asyncssh without its liboqs search (see _asyncssh).
import kubexms.connector._asyncssh  # noqa: F401  # isort: skip
from kubexms.connector._base import CommandResult, Connector
from kubexms.connector._errors import (
    AuthenticationError,
    CommandFailedError,
    CommandTimeoutError,
    ConnectorError,
    ConnectTimeoutError,
    FileTransferError,
    HostConnectionError,
    HostKeyChangedError,
    HostKeyError,
    HostLostError,
    SudoError,
)
from kubexms.connector._local import LocalConnector
from kubexms.connector._ssh import SSHConnector
from kubexms.connector._ssh_settings import HostKeyPolicy, SSHClientSettings, SSHEndpoint

__all__ = [
    "AuthenticationError",
    "CommandFailedError",
    "CommandResult",
    "CommandTimeoutError",
    "ConnectTimeoutError",
    "Connector",
    "ConnectorError",
    "FileTransferError",
    "HostConnectionError",
    "HostKeyChangedError",
    "HostKeyError",
    "HostKeyPolicy",
    "HostLostError",
    "LocalConnector",
    "SSHClientSettings",
    "SSHConnector",
    "SSHEndpoint",
    "SudoError",
]
