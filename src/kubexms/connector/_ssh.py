"""SSHConnector: the Connector contract over one asyncssh connection."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Mapping
from pathlib import Path

import asyncssh

from kubexms._log import get_logger
from kubexms.connector._base import CommandResult, Connector
from kubexms.connector._bastion import BastionLease
from kubexms.connector._errors import (
    CommandTimeoutError,
    ConnectorError,
    ConnectTimeoutError,
    HostConnectionError,
    HostLostError,
)
from kubexms.connector._execution import (
    DeadlineExceededError,
    KillTasks,
    decode,
    feed_stdin,
    read_all,
    read_stderr,
    run_with_deadline,
    settle_kills,
    unstarted_error,
)
from kubexms.connector._shell import (
    Elevation,
    PgidMarkerFilter,
    kill_group_command,
    validate_sudo_password,
    wrap_command,
)
from kubexms.connector._ssh_errors import CONNECTION_FAILURES, connection_error
from kubexms.connector._ssh_settings import CloseWatch, SSHClientSettings, SSHEndpoint
from kubexms.connector._ssh_transfer import SFTPTransfer

_log = get_logger("kubexms.connector")
_KILL_TIMEOUT = 15.0
_CLOSE_TIMEOUT = 5.0
_REDIAL_PAUSE = 0.5
LOST_RECONNECT_TIMEOUT = 5.0
"""Seconds for reconnecting to a host whose connection was lost: one short attempt (shorter
still when the keepalive window is), so a host that stops answering fails within about two
keepalive windows, and its clean-up (kills, lock release) never waits a full connect timeout."""


def _vague(error: ConnectorError) -> bool:
    """Whether ``error`` says only that the connection went, not how."""
    return error.reason.endswith(" was lost.")


def _one_line(command: str, limit: int = 100) -> str:
    """A command as it fits in one line of an error message."""
    lines = command.strip().splitlines() or [""]
    text = lines[0] if len(lines) == 1 else f"{lines[0]} …"
    return text if len(text) <= limit else text[: limit - 1] + "…"


class SSHConnector(Connector):
    """One host over SSH (asyncssh), optionally through a bastion shared with other hosts.

    Commands run without a PTY through ``/bin/sh``. Unless the login user is root,
    ``sudo=True`` runs the whole command under one ``sudo``, fed ``sudo_password`` (default:
    the login password) on stdin, or ``sudo -n`` when there is none. ``put`` and ``get`` use
    SFTP; for a non-root user they go through a private staging directory and sudo.
    """

    def __init__(
        self,
        name: str,
        endpoint: SSHEndpoint,
        settings: SSHClientSettings,
        *,
        bastion: SSHEndpoint | None = None,
        sudo_password: str | None = None,
    ) -> None:
        sudo_password = sudo_password if sudo_password is not None else endpoint.password
        if sudo_password is not None:
            validate_sudo_password(sudo_password)
        self.name = name
        self.endpoint = endpoint
        self.settings = settings
        self.bastion = bastion
        self._sudo_password = sudo_password
        self._is_root = endpoint.user == "root"
        self._conn: asyncssh.SSHClientConnection | None = None
        self._lease: BastionLease | None = None
        self._lock = asyncio.Lock()
        self._sessions = asyncio.Semaphore(settings.max_sessions_per_host)
        self._transfer = SFTPTransfer(self)
        self._pending_kills: KillTasks = set()
        self._loss: ConnectorError | None = None  # how the last connection broke under us
        self._gone: HostLostError | None = None  # the lost host did not come back: final
        self._watch: CloseWatch | None = None  # why the connection closed, if it did

    def __repr__(self) -> str:
        via = f" via {self.bastion.label}" if self.bastion else ""
        return f"SSHConnector(name={self.name!r}, {self.endpoint.user}@{self.endpoint.label}{via})"

    @property
    def is_root(self) -> bool:
        """Whether the login user is root (then nothing goes through sudo)."""
        return self._is_root

    async def connect(self) -> None:
        """Open the connection (and the bastion's, if not already open). Idempotent."""
        await self.connection()

    def note_lost(self, error: ConnectorError) -> None:
        """Record that the connection broke under us; the first error of a loss is kept
        (a bare "was lost" gives way to the first one that says how)."""
        if self._loss is None or (_vague(self._loss) and not _vague(error)):
            self._loss = error

    def reconnect_timeout(self) -> float:
        """The one short attempt a lost host gets (never longer than its keepalive window)."""
        timeout = min(self.settings.connect_timeout, LOST_RECONNECT_TIMEOUT)
        interval = self.settings.keepalive_interval
        if interval > 0:
            timeout = min(timeout, interval * (self.settings.keepalive_count_max + 1))
        return timeout

    async def connection(self) -> asyncssh.SSHClientConnection:
        """The live connection, (re)opened if needed.

        After a loss the host gets one short reconnect attempt; if that fails too the host is
        gone for this connector's life, and this raises HostLostError (the first error) at once.
        """
        async with self._lock:
            if self._gone is not None:
                raise self._gone.again()
            if self._conn is not None and not self._conn.is_closed():
                self._loss = None  # the connection lives: an earlier error was not a loss
                return self._conn
            if self._conn is not None:
                reason = self._watch.reason if self._watch is not None else None
                target = self.endpoint.label
                self.note_lost(
                    connection_error(self.name, target, reason)
                    if reason is not None
                    else HostConnectionError(self.name, f"the connection to {target} was lost.")
                )
            await self._drop()
            loss = self._loss
            if loss is None:
                self._conn = await self._dial(None)
            else:
                self._conn = await self._redial(loss)
            self._loss = None
            self._watch = CloseWatch(self._conn)
            _log.debug("connected", host=self.name, target=self.endpoint.label)
            return self._conn

    async def _dial(self, timeout: float | None) -> asyncssh.SSHClientConnection:
        tunnel = None
        try:
            if self.bastion is not None:
                self._lease = await self.settings.bastions.acquire(self.bastion, host=self.name)
                tunnel = self._lease.connection
            return await self.settings.connect(
                self.endpoint, host=self.name, tunnel=tunnel, timeout=timeout
            )
        except BaseException:
            await self._drop()
            raise

    async def _redial(self, loss: ConnectorError) -> asyncssh.SSHClientConnection:
        """The one short attempt at a host whose connection was lost: for at most
        :meth:`reconnect_timeout` seconds, a host that answers "refused" (sshd restarting)
        is dialled again every half second. Failing that, the host is gone for good."""
        left = self.reconnect_timeout()
        deadline = time.monotonic() + left
        while True:
            try:
                return await self._dial(left)
            except HostConnectionError as exc:
                left = deadline - time.monotonic() - _REDIAL_PAUSE
                if isinstance(exc, ConnectTimeoutError) or left < _REDIAL_PAUSE:
                    self._gone = HostLostError(self.name, loss, exc)
                    _log.warning("host lost", host=self.name, error=str(self._gone))
                    raise self._gone.again() from None
            await asyncio.sleep(_REDIAL_PAUSE)

    async def close(self) -> None:
        """Close the connection and give back the bastion. Safe to call more than once."""
        # Kills of cancelled commands go over this connection: let them finish first.
        await settle_kills(self._pending_kills, self.stop_grace + _KILL_TIMEOUT)
        async with self._lock:
            await self._drop()
            # Closed by us: opening it again is a fresh start, not a reconnect after a loss.
            self._loss = self._gone = None

    async def _drop(self) -> None:
        await self._transfer.forget()
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.wait_closed(), _CLOSE_TIMEOUT)
        lease, self._lease = self._lease, None
        if lease is not None:
            await self.settings.bastions.release(lease)

    async def run(
        self,
        command: str,
        *,
        sudo: bool = False,
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
        stdin: str | bytes | None = None,
        cwd: str | None = None,
    ) -> CommandResult:
        async with self._sessions:
            return await self._execute(
                command, sudo=sudo, timeout=timeout, env=env, stdin=stdin, cwd=cwd, killable=True
            )

    async def _execute(
        self,
        command: str,
        *,
        sudo: bool,
        timeout: float | None,
        env: Mapping[str, str] | None = None,
        stdin: str | bytes | None = None,
        cwd: str | None = None,
        killable: bool,
    ) -> CommandResult:
        conn = await self.connection()
        elevation = Elevation(self._sudo_password) if sudo and not self._is_root else None
        wrapped = wrap_command(
            command,
            env=env,
            cwd=cwd,
            elevation=elevation,
            token=secrets.token_hex(16),
            pgid_log=self.process_group_log if killable else None,
        )
        user_stdin = stdin.encode() if isinstance(stdin, str) else (stdin or b"")
        data = wrapped.stdin_prefix + user_stdin
        target = self.endpoint.label
        _log.debug("command started", host=self.name, command=command, sudo=sudo)
        started = time.monotonic()
        try:
            process = await conn.create_process(wrapped.text, encoding=None)
        except CONNECTION_FAILURES as exc:
            raise self._broken(connection_error(self.name, target, exc)) from None
        marker = PgidMarkerFilter(wrapped.pid_marker)

        async def work() -> tuple[bytes, bytes, int | None]:
            _, out, err = await asyncio.gather(
                feed_stdin(process.stdin, data),
                read_all(process.stdout),
                read_stderr(process.stderr, marker),
            )
            await process.wait_closed()
            return out, err, process.returncode

        async def kill(pgid: int | None) -> bool:
            return await self._kill(pgid, elevated=elevation is not None)

        try:
            if killable:
                out, err, code = await run_with_deadline(
                    work(),
                    timeout=timeout,
                    marker=marker,
                    kill=kill,
                    pending_kills=self._pending_kills,
                )
            else:
                out, err, code = await asyncio.wait_for(work(), timeout)
        except DeadlineExceededError as exc:
            assert timeout is not None
            _log.warning("command timed out", host=self.name, command=command, killed=exc.killed)
            raise CommandTimeoutError(self.name, command, timeout, killed=exc.killed) from None
        except CONNECTION_FAILURES as exc:
            raise self._broken(connection_error(self.name, target, exc)) from None
        finally:
            process.close()
        if code is None:
            raise self._broken(
                HostConnectionError(
                    self.name,
                    f"the connection to {target} dropped while a command ran: {_one_line(command)}",
                )
            )
        stderr = decode(err)
        if not marker.seen:
            raise unstarted_error(
                self.name, elevated=elevation is not None, exit_code=code, stderr=stderr
            )
        code = 128 - code if code < 0 else code
        _log.debug("command finished", host=self.name, command=command, exit_code=code)
        return CommandResult(command, code, decode(out), stderr, time.monotonic() - started)

    def _broken(self, error: ConnectorError) -> ConnectorError:
        """``error`` of a command on a connection that broke (recorded as the loss's first)."""
        if isinstance(error, HostConnectionError):
            self.note_lost(error)
        return error

    async def _kill(self, pgid: int | None, *, elevated: bool) -> bool:
        """Kill the command's process group over a second channel; closing ours would not."""
        if pgid is None:
            return False
        try:
            result = await self._execute(
                kill_group_command(pgid, self.stop_grace),
                sudo=elevated,
                timeout=self.stop_grace + _KILL_TIMEOUT,
                killable=False,
            )
        except Exception as exc:  # the timeout error the caller raises is what matters
            _log.warning("could not kill timed-out command", host=self.name, error=str(exc))
            return False
        return result.ok

    async def put(
        self,
        source: Path | bytes,
        remote_path: str,
        *,
        mode: int | None = None,
        owner: str | None = None,
    ) -> None:
        """Copy a file, bytes or a directory to ``remote_path`` over SFTP, atomically.

        A file lands by rename with ``mode`` (default: the local file's bits, 0644 for bytes)
        and ``owner`` (default: root). A directory is merged into ``remote_path`` file by file;
        ``mode`` applies to the directory itself and ``owner`` to everything written. As a
        non-root user the data goes to a private staging directory, then sudo moves it.
        """
        await self._transfer.put(source, remote_path, mode=mode, owner=owner)

    async def get(self, remote_path: str, local_path: Path) -> None:
        """Copy a remote file or directory to ``local_path`` (read through sudo if not root)."""
        await self._transfer.get(remote_path, local_path)
