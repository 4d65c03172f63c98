"""Connectors: transport to one host, local subprocesses or SSH (in memory: kubexms.testing)."""

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
