"""The one event stream of a run: every node x host start, skip, finish, failure and retry.

The engine emits; consumers (the live view, the JSON-lines log, the summary) subscribe.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class EventKind(StrEnum):
    RUN_STARTED = "run-started"
    RUN_FINISHED = "run-finished"
    NODE_STARTED = "node-started"
    NODE_FINISHED = "node-finished"
    STARTED = "started"
    SKIPPED = "skipped"
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    WOULD_CHANGE = "would-change"
    FAILED = "failed"
    RETRIED = "retried"
    ROLLED_BACK = "rolled-back"
    ROLLBACK_FAILED = "rollback-failed"


PAIR_RESULTS = frozenset(
    {
        EventKind.SKIPPED,
        EventKind.CHANGED,
        EventKind.UNCHANGED,
        EventKind.WOULD_CHANGE,
        EventKind.FAILED,
    }
)
"""The kinds that end one (node, host) pair: each pair gets exactly one of them."""


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened. Pair events carry ``node`` and ``host``; node events only
    ``node``; run events neither. ``data`` holds run-level facts (counts, outcome)."""

    kind: EventKind
    node: str | None = None
    host: str | None = None
    time: float = field(default_factory=time.time)
    duration: float | None = None
    attempt: int | None = None
    detail: str = ""
    error: str = ""
    error_type: str = ""
    error_label: str = ""  # what happened: "timed out", "unreachable", "sudo refused"...
    note: str = ""  # a reporting step's result, for the run summary (a Helm release's status)
    data: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form, without empty fields."""
        result: dict[str, Any] = {"event": self.kind.value, "time": round(self.time, 6)}
        for key in ("node", "host", "attempt"):
            value = getattr(self, key)
            if value is not None:
                result[key] = value
        if self.duration is not None:
            result["duration"] = round(self.duration, 6)
        for key in ("detail", "error", "error_type", "error_label", "note"):
            value = getattr(self, key)
            if value:
                result[key] = value
        if self.data:
            result.update(self.data)
        return result


EventSink = Callable[[Event], None]


class EventBus:
    """Hands every event to each subscriber, in order of subscription.

    Subscribers are called synchronously on the event loop: they must be quick (buffer, then
    render or flush on their own schedule).
    """

    def __init__(self, *sinks: EventSink) -> None:
        self._sinks: list[EventSink] = list(sinks)

    def subscribe(self, sink: EventSink) -> None:
        self._sinks.append(sink)

    def emit(self, event: Event) -> None:
        for sink in self._sinks:
            sink(event)
