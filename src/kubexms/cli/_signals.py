"""SIGINT, SIGTERM and SIGHUP stop a run the same way: the main task is cancelled.

Cancelling lets every layer clean up on the way out: the engine stops its pairs, each
connector kills the remote command of a cancelled run, the session releases the host locks
and keeps the checkpoint. Only then does the process exit, with 128 + the signal's number
(130, 143, 129), as a shell reports a process killed by it.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from typing import Any, TypeVar

from kubexms._errors import KubexmsError

T = TypeVar("T")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class RunInterruptedError(KubexmsError):
    """The run was stopped by a signal once everything it had started was cleaned up."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.signal_name = signal.Signals(signum).name
        super().__init__(f"interrupted by {self.signal_name}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def run_until_signalled(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)``, where SIGTERM and SIGHUP cancel ``main`` as SIGINT (Ctrl-C) does.

    Raises RunInterruptedError once ``main`` has unwound after one of the three signals.
    """
    received: list[int] = []

    async def guarded() -> T:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None

        def stop(signum: int) -> None:
            if not received:
                received.append(signum)
            task.cancel()

        installed = []
        for signum in STOP_SIGNALS:
            try:
                loop.add_signal_handler(signum, stop, signum)
            except (ValueError, RuntimeError):  # not the main thread: signals are not ours
                continue
            installed.append(signum)
        try:
            return await main
        finally:
            for signum in installed:
                loop.remove_signal_handler(signum)

    try:
        return asyncio.run(guarded())
    except KeyboardInterrupt:
        raise RunInterruptedError(received[0] if received else signal.SIGINT) from None
    except asyncio.CancelledError:
        if received:
            raise RunInterruptedError(received[0]) from None
        raise
