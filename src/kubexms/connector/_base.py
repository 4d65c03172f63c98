"""The Connector contract: transport to one host, nothing more."""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from kubexms.connector._errors import CommandFailedError


@dataclass(frozen=True, slots=True)
class CommandResult:
    """What one command did: exit code, stdout and stderr kept apart, and how long it took."""

    command: str
    exit_code: int
    stdout: str
    stderr: str
    duration: float

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


class Connector(abc.ABC):
    """Transport to one host: run a command, put and get files, close.

    Implementations: ``LocalConnector`` (subprocesses on this machine) and
    ``SSHConnector`` (asyncssh). ``name`` is the host name used in errors and logs.
    """

    name: str
    process_group_log: str | None = None
    """A host file each command appends its process group to (set by a run, which names it
    in its host lock); None records nothing."""
    stop_grace: float = 5.0
    """Seconds a stopped (timed-out or cancelled) command gets between TERM and KILL."""

    @abc.abstractmethod
    async def connect(self) -> None:
        """Open the transport. Raises HostConnectionError, AuthenticationError or HostKeyError."""

    @abc.abstractmethod
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
        """Run ``command`` through the host's shell.

        With ``sudo`` the *whole* command runs elevated. A ``timeout`` kills the remote
        process and raises CommandTimeoutError. A non-zero exit is returned, not raised.
        """

    @abc.abstractmethod
    async def put(
        self,
        source: Path | bytes,
        remote_path: str,
        *,
        mode: int | None = None,
        owner: str | None = None,
    ) -> None:
        """Copy a local file, directory (recursively) or bytes to ``remote_path``, atomically."""

    @abc.abstractmethod
    async def get(self, remote_path: str, local_path: Path) -> None:
        """Copy a remote file or directory (recursively) to ``local_path``."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release the transport. Safe to call more than once."""

    async def must_run(
        self,
        command: str,
        *,
        sudo: bool = False,
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
        stdin: str | bytes | None = None,
        cwd: str | None = None,
    ) -> CommandResult:
        """Like ``run`` but raise CommandFailedError on a non-zero exit."""
        result = await self.run(command, sudo=sudo, timeout=timeout, env=env, stdin=stdin, cwd=cwd)
        if not result.ok:
            raise CommandFailedError(self.name, result)
        return result

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
