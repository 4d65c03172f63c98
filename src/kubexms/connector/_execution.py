"""Driving one wrapped command: feed stdin, collect stdout/stderr, enforce the timeout.

Shared by the local and the SSH connector; each supplies its streams and a way to kill the
command's process group.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from kubexms._errors import KubexmsError
from kubexms.connector._errors import ConnectorError, SudoError
from kubexms.connector._shell import PgidMarkerFilter

_T = TypeVar("_T")
_CHUNK = 1 << 16
# After a timeout: how long to wait for the pgid marker (sudo may still be checking a
# password), and for the process to exit once killed.
MARKER_GRACE = 5.0
EXIT_GRACE = 5.0

_SUDO_REFUSALS = re.compile(
    r"incorrect password|try again|password is required|no password was provided|"
    r"a terminal is required|not in the sudoers|may not run sudo|not allowed to (run|execute)|"
    r"authentication failure|must have a tty",
    re.IGNORECASE,
)

KillTasks = set[asyncio.Task[bool]]
"""Kills a connector started in the background (its runs were cancelled); it awaits them on
close, so closing right after a cancelled step cannot cut a kill off and leave work running."""


class ByteReader(Protocol):
    async def read(self, n: int = -1) -> bytes: ...


class ByteWriter(Protocol):
    def write(self, data: bytes) -> None: ...

    async def drain(self) -> None: ...

    def write_eof(self) -> None: ...


async def feed_stdin(writer: ByteWriter, data: bytes) -> None:
    """Write ``data`` then end the stream; a command that exits without reading is fine."""
    with contextlib.suppress(ConnectionError, BrokenPipeError, OSError):
        for offset in range(0, len(data), _CHUNK):
            writer.write(data[offset : offset + _CHUNK])
            await writer.drain()
        writer.write_eof()


async def read_all(reader: ByteReader) -> bytes:
    parts: list[bytes] = []
    while chunk := await reader.read(_CHUNK):
        parts.append(chunk)
    return b"".join(parts)


async def read_stderr(reader: ByteReader, marker: PgidMarkerFilter) -> bytes:
    """Read stderr, taking out the pgid marker line as soon as it arrives."""
    parts: list[bytes] = []
    try:
        while chunk := await reader.read(_CHUNK):
            parts.append(marker.feed(chunk))
    finally:
        parts.append(marker.close())
    return b"".join(parts)


def decode(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


class DeadlineExceededError(KubexmsError):
    """Internal: the timeout fired; ``killed`` says whether the process group was killed."""

    def __init__(self, killed: bool) -> None:
        super().__init__("deadline exceeded")
        self.killed = killed


async def run_with_deadline(
    work: Awaitable[_T],
    *,
    timeout: float | None,
    marker: PgidMarkerFilter,
    kill: Callable[[int | None], Awaitable[bool]],
    pending_kills: KillTasks,
) -> _T:
    """Await ``work``; past ``timeout``, kill the process group and raise DeadlineExceededError.

    ``kill`` receives the pgid from the marker (None if it never arrived) and returns whether
    the command is known dead. If the caller is cancelled, the kill still happens in the
    background and is added to ``pending_kills``.
    """
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.wait_for(asyncio.shield(task), timeout)
    except TimeoutError:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(marker.settled.wait(), MARKER_GRACE)
        killed = await kill(marker.pgid)
        done, _ = await asyncio.wait({task}, timeout=EXIT_GRACE)
        if not done:
            task.cancel()
        elif not task.cancelled():
            task.exception()  # consumed: the timeout is what the caller hears about
        raise DeadlineExceededError(killed) from None
    except asyncio.CancelledError:
        task.cancel()
        if marker.pgid is not None:
            killer = asyncio.ensure_future(kill(marker.pgid))
            pending_kills.add(killer)
            killer.add_done_callback(pending_kills.discard)
        raise


def unstarted_error(host: str, *, elevated: bool, exit_code: int, stderr: str) -> ConnectorError:
    """The payload never printed its marker: sudo or the shell refused to start it."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    detail = " ".join(lines[-3:]) or f"exit code {exit_code}, no output"
    if elevated and _SUDO_REFUSALS.search(stderr):
        return SudoError(host, f"sudo refused to run the command: {detail}")
    if elevated:
        return ConnectorError(host, f"the command could not be started under sudo: {detail}")
    return ConnectorError(host, f"the command could not be started: {detail}")


async def settle_kills(pending_kills: KillTasks, timeout: float) -> None:
    """Wait (at most ``timeout`` seconds) for background kills to finish."""
    if pending_kills:
        await asyncio.wait(set(pending_kills), timeout=timeout)
