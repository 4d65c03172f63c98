"""Failures become typed errors whose messages say what happened and where."""

from __future__ import annotations

import errno
import socket

import asyncssh
import pytest

from kubexms.connector import (
    AuthenticationError,
    CommandResult,
    CommandTimeoutError,
    ConnectorError,
    ConnectTimeoutError,
    FileTransferError,
    HostConnectionError,
    HostKeyError,
    SudoError,
)
from kubexms.connector._execution import unstarted_error
from kubexms.connector._ssh_errors import connection_error, sftp_error

TARGET = "10.213.0.12:22"


@pytest.mark.parametrize(
    ("exc", "kind", "retryable", "phrase"),
    [
        (ConnectionRefusedError(errno.ECONNREFUSED, "refused"), HostConnectionError, True,
         "10.213.0.12:22 refused the connection"),
        (TimeoutError(), ConnectTimeoutError, True,
         "connecting to 10.213.0.12:22 timed out after 7s"),
        (OSError(errno.ETIMEDOUT, "Connection timed out"), ConnectTimeoutError, True,
         "connecting to 10.213.0.12:22 timed out"),
        (OSError(errno.EHOSTUNREACH, "No route to host"), HostConnectionError, True,
         "cannot reach 10.213.0.12:22: the host is unreachable"),
        (OSError(errno.ENETUNREACH, "unreachable"), HostConnectionError, True,
         "the network is unreachable"),
        (socket.gaierror(-2, "Name or service not known"), HostConnectionError, True,
         "could not be resolved"),
        (asyncssh.ConnectionLost("Connection lost"), HostConnectionError, True,
         "the connection to 10.213.0.12:22 was lost"),
        (asyncssh.DisconnectError(11, "bye"), HostConnectionError, True,
         "10.213.0.12:22 closed the connection: bye"),
        (asyncssh.PermissionDenied("Permission denied"), AuthenticationError, False,
         "10.213.0.12:22 rejected our credentials"),
        (asyncssh.HostKeyNotVerifiable("Host key is not trusted"), HostKeyError, False,
         "the host key of 10.213.0.12:22 could not be verified"),
        (asyncssh.KeyImportError("Invalid PEM"), AuthenticationError, False,
         "private key for 10.213.0.12:22 is unusable"),
        (asyncssh.KeyExchangeFailed("No matching algorithm"), ConnectorError, False,
         "SSH negotiation with 10.213.0.12:22 failed"),
        (asyncssh.ChannelOpenError(2, "open failed"), HostConnectionError, True,
         "10.213.0.12:22 refused to open an SSH channel"),
    ],
)  # fmt: skip
def test_connection_failures_map_to_typed_errors(
    exc: BaseException, kind: type[ConnectorError], retryable: bool, phrase: str
) -> None:
    error = connection_error("node2", TARGET, exc, timeout=7)
    assert type(error) is kind
    assert error.retryable is retryable
    assert error.host == "node2"
    assert str(error).startswith("node2: ")
    assert phrase in str(error)
    assert str(error).endswith(".")


def test_refused_tunnel_blames_the_bastion() -> None:
    error = connection_error(
        "node3", TARGET, asyncssh.ChannelOpenError(2, "Connection refused"), tunnel=True
    )
    assert isinstance(error, HostConnectionError)
    assert "the bastion could not open a tunnel to 10.213.0.12:22" in str(error)


def test_sftp_errors() -> None:
    missing = sftp_error("n", "read /etc/x", asyncssh.SFTPNoSuchFile("No such file"), TARGET)
    assert isinstance(missing, FileTransferError)
    assert str(missing) == "n: could not read /etc/x: No such file."
    assert not missing.retryable
    lost = sftp_error("n", "read /etc/x", asyncssh.ConnectionLost("gone"), TARGET)
    assert isinstance(lost, HostConnectionError)


@pytest.mark.parametrize(
    "stderr",
    [
        "sudo: a password is required\n",
        "Sorry, try again.\nsudo: 2 incorrect password attempts\n",
        "sudo: no password was provided\n",
        "deployer is not in the sudoers file.  This incident will be reported.\n",
        "Sorry, user ops may not run sudo on node1.\n",
        "sudo: sorry, you must have a tty to run sudo\n",
    ],
)
def test_sudo_refusals_are_sudo_errors(stderr: str) -> None:
    error = unstarted_error("node1", elevated=True, exit_code=1, stderr=stderr)
    assert isinstance(error, SudoError)
    assert isinstance(error, AuthenticationError)
    assert not error.retryable
    assert "sudo refused to run the command" in str(error)


def test_a_missing_shell_tool_is_not_blamed_on_sudo() -> None:
    error = unstarted_error(
        "node1", elevated=False, exit_code=127, stderr="sh: 1: setsid: not found\n"
    )
    assert type(error) is ConnectorError
    assert "could not be started: sh: 1: setsid: not found" in str(error)


def test_timeout_error_says_whether_the_command_was_killed() -> None:
    killed = CommandTimeoutError("n", "sleep 9", 2)
    assert str(killed) == "n: command timed out after 2s and was killed: sleep 9"
    assert killed.killed
    unsure = CommandTimeoutError("n", "sleep 9", 2.5, killed=False)
    assert "could NOT be confirmed killed" in str(unsure)
    assert unsure.retryable


def test_command_result_ok() -> None:
    assert CommandResult("true", 0, "", "", 0.1).ok
    assert not CommandResult("false", 1, "", "", 0.1).ok
