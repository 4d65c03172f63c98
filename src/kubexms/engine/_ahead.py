"""Prechecks ahead: a rerun asks its questions at once instead of one step after another.

A precheck only reads the host. When a run has changed nothing so far, the host is as it
was when the run began, so a precheck made early says what the same precheck would say when
its step's turn comes. While the plan's early steps work, a few workers (half the run's
concurrency) precheck the later (node, host) pairs in plan order; when a pair's turn comes and
the run has still changed nothing, an early "nothing to do" is its verdict (no second round
trip). So a rerun that finds everything in place costs about one round trip per (step, host)
spread over the hosts' SSH sessions, not the plan's depth times a round trip.

An early verdict is thrown away, and the pair prechecked again in its turn, when anything in
the run changed or failed before its turn, when the early precheck failed, or when it found
something to do (a dry run, which changes nothing, keeps every early verdict but a failure).
No new early precheck starts once the run has changed something: a first run would waste them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass

from kubexms.engine._graph import Node
from kubexms.engine._step import pending_change
from kubexms.runtime import Context


@dataclass(frozen=True, slots=True)
class EarlyVerdict:
    """What a pair's precheck said ahead of its turn, and when it said it."""

    would_change: bool
    detail: str
    duration: float


class PrechecksAhead:
    """The early prechecks of one run (see the module docstring).

    ``pairs``: what may be prechecked early, in plan order; ``make_context(node, host,
    deadline)`` makes a pair's context; ``hold(node)`` takes the run's pair slot (an early
    precheck takes one like any pair, so the run's concurrency holds).
    """

    def __init__(
        self,
        pairs: list[tuple[Node, str]],
        make_context: Callable[[Node, str, float], Context],
        hold: Callable[[], AbstractAsyncContextManager[None]],
        *,
        workers: int,
        timeout: Callable[[Node], float],
        dry_run: bool,
    ) -> None:
        self._pairs = pairs
        self._next = 0
        self._make_context = make_context
        self._hold = hold
        self._timeout = timeout
        self._workers_wanted = workers
        self.dry_run = dry_run
        self.begun: set[str] = set()  # nodes whose turn has come (no early precheck starts)
        self.disturbed = False  # something in the run changed or failed
        self._early: dict[tuple[str, str], asyncio.Task[EarlyVerdict | None]] = {}
        self._workers: list[asyncio.Task[None]] = []
        self.started = False

    def start(self) -> None:
        self.started = True
        count = min(self._workers_wanted, len(self._pairs))
        self._workers = [asyncio.create_task(self._work()) for _ in range(count)]

    async def _work(self) -> None:
        while self._next < len(self._pairs) and not self.disturbed:
            node, host = self._pairs[self._next]
            self._next += 1
            if node.id in self.begun:
                continue
            early = asyncio.create_task(self._precheck(node, host))
            self._early[(node.id, host)] = early
            # wait(), not await: cancelling this worker must not cancel a verdict a pair awaits.
            await asyncio.wait([early])

    async def _precheck(self, node: Node, host: str) -> EarlyVerdict | None:
        async with self._hold():
            if self.disturbed:
                return None
            started = time.monotonic()
            timeout = self._timeout(node)
            ctx = self._make_context(node, host, started + timeout)
            try:
                async with asyncio.timeout(timeout):
                    would_change, detail = pending_change(await node.step.precheck(ctx))
            except Exception:  # the pair's own turn prechecks again and reports it
                return None
            return EarlyVerdict(would_change, detail, time.monotonic() - started)

    async def verdict(self, node: Node, host: str) -> EarlyVerdict | None:
        """The pair's early verdict, if one was made and may stand; None: precheck it now."""
        early = self._early.pop((node.id, host), None)
        if early is None:
            return None
        found = await early
        if found is None or self.disturbed:
            return None
        if found.would_change and not self.dry_run:
            return None
        return found

    async def close(self) -> None:
        """Cancel what is still running (the run ended; its verdicts are not needed)."""
        self.disturbed = True
        waiting = [*self._workers, *self._early.values()]
        for task in waiting:
            task.cancel()
        if waiting:
            await asyncio.gather(*waiting, return_exceptions=True)
        self._early.clear()
