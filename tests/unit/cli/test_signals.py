"""run_until_signalled: SIGTERM and SIGHUP cancel the run like Ctrl-C, once it has unwound."""

from __future__ import annotations

import asyncio
import os
import signal
import threading

import pytest

from kubexms.cli._signals import RunInterruptedError, run_until_signalled


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_signal_cancels_the_run_after_its_clean_up(signum: int, code: int) -> None:
    cleaned: list[str] = []

    async def run() -> None:
        asyncio.get_running_loop().call_later(0.05, os.kill, os.getpid(), signum)
        try:
            await asyncio.sleep(30)
        finally:
            await asyncio.sleep(0.01)  # clean-up may still await (kills, lock release)
            cleaned.append("done")

    with pytest.raises(RunInterruptedError) as caught:
        run_until_signalled(run())
    assert caught.value.exit_code == code
    assert cleaned == ["done"]


def test_outside_the_main_thread_it_simply_runs() -> None:
    async def answer() -> int:
        return 42

    results: list[int] = []
    thread = threading.Thread(target=lambda: results.append(run_until_signalled(answer())))
    thread.start()
    thread.join(30)
    assert results == [42]
