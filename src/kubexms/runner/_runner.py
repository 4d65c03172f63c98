"""The Runner: host operations over one connector, with facts cached per host."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from kubexms.connector import CommandResult, Connector
from kubexms.runner._facts import FACTS_SCRIPT, HostFacts, parse_facts


class Runner:
    """Operations on one host through its connector. Stateless but for cached facts."""

    def __init__(self, connector: Connector) -> None:
        self.connector = connector
        self._facts: HostFacts | None = None
        self._facts_lock = asyncio.Lock()

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
