"""A machine-wide lock for the few things fleets share: address blocks and kernel limits."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

from kubexms.sandbox._errors import SandboxError

__all__ = ["machine_lock"]

_LOCK_PATH = Path("/run/lock/kubexms-sandbox.lock")
_LOCK_TIMEOUT = 60.0


@contextlib.asynccontextmanager
async def machine_lock() -> AsyncIterator[None]:
    """Hold the lock that serialises fleets started or stopped concurrently on this machine."""
    _LOCK_PATH.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(_LOCK_PATH, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + _LOCK_TIMEOUT
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise SandboxError(
                        f"another fleet has held {_LOCK_PATH} for {_LOCK_TIMEOUT:.0f} s; "
                        "is a kubexms sandbox command stuck?"
                    ) from None
                # flock would block the event loop; poll instead.
                await asyncio.sleep(0.1)
        yield
    finally:
        os.close(fd)
