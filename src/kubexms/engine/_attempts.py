"""One step on one host: precheck, run, timeout, retries with backoff, rollback."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from kubexms._errors import error_label
from kubexms.engine._errors import StepTimeoutError, is_retryable
from kubexms.engine._events import Event, EventKind
from kubexms.engine._graph import Node
from kubexms.engine._options import EngineOptions
from kubexms.engine._step import ReversibleStep, pending_change
from kubexms.runtime import Context


@dataclass(frozen=True, slots=True)
class Attempted:
    """How one pair ended: CHANGED, UNCHANGED, WOULD_CHANGE, FAILED (with the error), or
    SKIPPED (the run stopped before it began; ``detail`` says why)."""

    kind: EventKind
    detail: str = ""
    error: BaseException | None = None


class Slots:
    """The run's global limits: pairs in flight, and of those, pairs moving large files."""

    def __init__(self, concurrency: int, uploads: int) -> None:
        self._pairs = asyncio.Semaphore(concurrency)
        self._uploads = asyncio.Semaphore(uploads)

    @contextlib.asynccontextmanager
    async def hold(self, node: Node) -> AsyncIterator[None]:
        # Always the pair slot first, then the upload slot: one order, so no deadlock.
        async with self._pairs:
            if node.step.uploads:
                async with self._uploads:
                    yield
            else:
                yield

    @contextlib.asynccontextmanager
    async def hold_pair(self) -> AsyncIterator[None]:
        """Only a pair slot: a precheck moves no large file."""
        async with self._pairs:
            yield


def describe_error(error: BaseException) -> str:
    text = str(error)
    return text if text else type(error).__name__


@dataclass(frozen=True, slots=True)
class PairRun:
    """What running one pair needs from the executor."""

    node: Node
    host: str
    make_context: Callable[[float], Context]
    options: EngineOptions
    emit: Callable[[Event], None]
    slots: Slots
    stop_reason: Callable[[str], str | None]
    dry_run: bool


async def attempt_pair(pair: PairRun) -> Attempted:
    """Run the pair until it succeeds, fails for good, or runs out of retries.

    Only retryable errors (lost connection, timeout) are retried, after a backoff during
    which the pair holds no slot. Before each attempt, ``stop_reason`` may end the pair (the
    run stopped, or the host failed elsewhere). A final failure triggers the step's rollback.
    """
    node, step, host = pair.node, pair.node.step, pair.host
    timeout = step.timeout if step.timeout is not None else pair.options.step_timeout
    retries = step.retries if step.retries is not None else pair.options.retry.retries
    attempt = 0
    result = Attempted(EventKind.SKIPPED)
    while True:
        async with pair.slots.hold(node):
            reason = pair.stop_reason(host)
            if reason is not None:
                # Stopped before the first attempt: skipped. Between retries: the last error.
                return result if attempt else Attempted(EventKind.SKIPPED, reason)
            attempt += 1
            if attempt == 1:
                pair.emit(Event(EventKind.STARTED, node.id, host))
            ctx = pair.make_context(time.monotonic() + timeout)
            result = await _once(node, ctx, timeout, pair.dry_run, host)
        error = result.error
        if error is None or not is_retryable(error) or attempt > retries:
            break
        delay = pair.options.retry.delay(attempt)
        pair.emit(
            Event(
                EventKind.RETRIED,
                node.id,
                host,
                attempt=attempt,
                detail=f"retrying in {delay:.1f}s",
                error=describe_error(error),
                error_type=type(error).__name__,
                error_label=error_label(error),
            )
        )
        await asyncio.sleep(delay)
    if result.error is not None and not pair.dry_run and isinstance(step, ReversibleStep):
        await _rollback(pair, step)
    return result


async def _once(node: Node, ctx: Context, timeout: float, dry_run: bool, host: str) -> Attempted:
    step = node.step
    try:
        # Leaving this block on timeout cancels the step's coroutine; the connector kills the
        # remote command of a cancelled run, so nothing is left running on the host.
        async with asyncio.timeout(timeout):
            would_change, pending = pending_change(await step.precheck(ctx))
            if not would_change:
                # Nothing to do: a step that reports keeps what its precheck found.
                return Attempted(EventKind.UNCHANGED, pending if step.reports else "")
            if dry_run:
                return Attempted(EventKind.WOULD_CHANGE, pending)
            change = await step.run(ctx)
    except TimeoutError:
        return Attempted(EventKind.FAILED, error=StepTimeoutError(host, node.id, timeout))
    except Exception as error:  # any step error fails this pair, never the engine
        return Attempted(EventKind.FAILED, error=error)
    if change is not None and not change.changed:
        return Attempted(EventKind.UNCHANGED, change.detail)
    return Attempted(EventKind.CHANGED, change.detail if change is not None else "")


async def _rollback(pair: PairRun, step: ReversibleStep) -> None:
    started = time.monotonic()
    limit = pair.options.rollback_timeout
    ctx = pair.make_context(started + limit)
    try:
        async with pair.slots.hold(pair.node), asyncio.timeout(limit):
            await step.rollback(ctx)
    except Exception as error:
        if isinstance(error, TimeoutError):
            error = StepTimeoutError(pair.host, f"rollback of {pair.node.id}", limit)
        pair.emit(
            Event(
                EventKind.ROLLBACK_FAILED,
                pair.node.id,
                pair.host,
                duration=time.monotonic() - started,
                error=describe_error(error),
                error_type=type(error).__name__,
                error_label=error_label(error),
            )
        )
        return
    pair.emit(
        Event(EventKind.ROLLED_BACK, pair.node.id, pair.host, duration=time.monotonic() - started)
    )
