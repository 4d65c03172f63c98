"""An in-memory host: the Connector contract with no machine behind it, for tests.

Like httpx's MockTransport: everything above the connector (Runner, Runtime, Engine) can be
unit-tested against hosts whose answers, delays and failures a test scripts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from kubexms.connector._base import CommandResult, Connector
from kubexms.connector._errors import FileTransferError

Answer = CommandResult | tuple[int, str] | str
"""What a handler returns: a whole result, (exit code, stdout), or stdout (exit 0)."""
Handler = Callable[[str, str, bytes], Answer]
"""handler(host name, command, stdin) -> Answer; raising a ConnectorError simulates failure."""


def _ok(host: str, command: str, stdin: bytes) -> Answer:
    return ""


class MemoryConnector(Connector):
    """A host that lives in memory. ``delay`` seconds pass (asynchronously) per command;
    ``connect`` takes ``connect_delay`` seconds and then raises ``connect_error`` if given."""

    def __init__(
        self,
        name: str,
        handler: Handler | None = None,
        *,
        delay: float = 0.0,
        connect_delay: float = 0.0,
        connect_error: BaseException | None = None,
    ) -> None:
        self.name = name
        self.handler = handler or _ok
        self.delay = delay
        self.connect_delay = connect_delay
        self.connect_error = connect_error
        self.commands: list[str] = []
        self.files: dict[str, bytes] = {}
        self.connected = False
        self.close_count = 0

    async def connect(self) -> None:
        if self.connect_delay:
            await asyncio.sleep(self.connect_delay)
        if self.connect_error is not None:
            raise self.connect_error
        self.connected = True

    async def close(self) -> None:
        self.close_count += 1
        self.connected = False

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
        self.commands.append(command)
        data = stdin.encode() if isinstance(stdin, str) else (stdin or b"")
        started = time.monotonic()
        if self.delay:
            await asyncio.sleep(self.delay)
        answer = self.handler(self.name, command, data)
        if isinstance(answer, CommandResult):
            return answer
        code, out = (0, answer) if isinstance(answer, str) else answer
        return CommandResult(command, code, out, "", time.monotonic() - started)

    async def put(
        self,
        source: Path | bytes,
        remote_path: str,
        *,
        mode: int | None = None,
        owner: str | None = None,
    ) -> None:
        if isinstance(source, bytes):
            self.files[remote_path] = source
        else:
            self.files[remote_path] = await asyncio.to_thread(source.read_bytes)

    async def get(self, remote_path: str, local_path: Path) -> None:
        if remote_path not in self.files:
            raise FileTransferError(self.name, f"no such file: {remote_path}")
        await asyncio.to_thread(local_path.write_bytes, self.files[remote_path])
