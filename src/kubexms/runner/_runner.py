"""The Runner: the one object a Step uses to read and change its host."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Mapping

from kubexms.connector import CommandResult, Connector
from kubexms.runner._archives import Archives
from kubexms.runner._errors import NoSpaceError
from kubexms.runner._facts import FACTS_SCRIPT, HostFacts, parse_facts
from kubexms.runner._files import Files
from kubexms.runner._network import Network
from kubexms.runner._packages import Packages
from kubexms.runner._script import quote
from kubexms.runner._services import Services
from kubexms.runner._system import System
from kubexms.runner._templates import Templates

RUN_DIRECTORIES = "/var/tmp/kubexms"
"""Where runs keep their temporary files on a host: one ``run-<id>`` directory per run."""


def run_directory(run_id: str, root: str = RUN_DIRECTORIES) -> str:
    """The host directory of run ``run_id``'s temporary files (under ``root``)."""
    if not run_id or not run_id.replace("-", "").isalnum():
        raise ValueError(f"run id {run_id!r} must be letters, digits and dashes")
    return f"{root.rstrip('/')}/run-{run_id}"


class Runner:
    """Operations on one host through its connector, grouped by concern.

    ``runner.files``, ``runner.templates``, ``runner.archives``, ``runner.packages``,
    ``runner.services``, ``runner.system`` and ``runner.network`` read and change the host;
    every change returns a :class:`Change` telling whether anything changed. Facts are
    gathered once and cached.

    ``sudo``: whether operations that need privileges (writing system files, packages,
    services, sysctl) ask the connector to elevate. Connectors make elevation a no-op for a
    root login, so the default ``True`` is right for root and sudo users alike; set it False
    only for a non-root user who must not (or cannot) use sudo.

    ``temp_dir``: where operations put temporary files on the host (uploads before install,
    staged writes). A run sets it to its own ``run_directory(run_id)``, which it removes at
    the end and a later run sweeps if this one was killed; otherwise it is a fresh one.
    """

    def __init__(self, connector: Connector, *, sudo: bool = True) -> None:
        self.connector = connector
        self.sudo = sudo
        self.temp_dir = run_directory(secrets.token_hex(6))
        self._facts: HostFacts | None = None
        self._facts_lock = asyncio.Lock()
        self.files = Files(self)
        self.templates = Templates(self)
        self.archives = Archives(self)
        self.packages = Packages(self)
        self.services = Services(self)
        self.system = System(self)
        self.network = Network(self)

    def __repr__(self) -> str:
        return f"Runner({self.connector!r}, sudo={self.sudo})"

    @property
    def host_name(self) -> str:
        return self.connector.name

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
        """Run a command; a non-zero exit is returned in the result, not raised."""
        return await self.connector.run(
            command, sudo=sudo, timeout=timeout, env=env, stdin=stdin, cwd=cwd
        )

    async def check(
        self, command: str, *, sudo: bool = False, timeout: float | None = None
    ) -> bool:
        """Whether the command exits 0."""
        return (await self.run(command, sudo=sudo, timeout=timeout)).ok

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
        """Run a command and raise CommandFailedError (with exit code and output) on failure."""
        return await self.connector.must_run(
            command, sudo=sudo, timeout=timeout, env=env, stdin=stdin, cwd=cwd
        )

    async def facts(self, *, refresh: bool = False) -> HostFacts:
        """The host's facts, gathered in one round trip on first use and cached."""
        async with self._facts_lock:
            if self._facts is None or refresh:
                result = await self.must_run(FACTS_SCRIPT, timeout=60)
                self._facts = parse_facts(result.stdout)
            return self._facts

    async def script(
        self,
        text: str,
        *,
        stdin: str | bytes | None = None,
        timeout: float | None = None,
        check: bool = True,
    ) -> CommandResult:
        """Run an operation's script with the Runner's privileges (see ``sudo``).

        With ``check`` a non-zero exit raises CommandFailedError.
        """
        if check:
            return await self.must_run(text, sudo=self.sudo, stdin=stdin, timeout=timeout)
        return await self.run(text, sudo=self.sudo, stdin=stdin, timeout=timeout)

    async def require_space(self, directory: str, needed: int) -> None:
        """Create ``directory`` and raise NoSpaceError unless it has ``needed``
        bytes free, so an upload that cannot fit fails first, saying so, not half way."""
        result = await self.script(
            f"d={quote(directory)}\n"
            '(umask 022; mkdir -p -- "$d") 2>/dev/null || { echo "@kxms:free 0"; exit 0; }\n'
            # apt reads local .deb files as its _apt user: the directories must be open to
            # it (what is private inside is made with mktemp -d, 0700).
            'chmod 0755 -- "$d" "$(dirname -- "$d")"\n'
            'echo "@kxms:free $(df -Pk -- "$d" | awk \'NR == 2 {print $4}\')"',
            timeout=60,
        )
        free = 0
        for line in result.stdout.splitlines():
            if line.startswith("@kxms:free "):
                value = line.split(" ", 1)[1].strip()
                free = int(value) * 1024 if value.isdigit() else 0
        if free < needed:
            raise NoSpaceError(self.host_name, directory, free, needed)
