"""Context: what each step receives, and the two explicit data stores."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog

from kubexms.runner import Runner
from kubexms.runtime._host import Host

if TYPE_CHECKING:
    from kubexms.runtime._runtime import ClusterRuntime


class MissingDataError(KeyError):
    """A step read a key that no earlier step wrote."""

    def __init__(self, store: str, key: str) -> None:
        super().__init__(f"{store} has no value for {key!r}: no earlier step wrote it")
        self.key = key

    def __str__(self) -> str:
        return str(self.args[0])


class DataStore:
    """A named key/value store. Safe for concurrent use by asyncio tasks of one event loop.

    Two kinds exist and are kept apart on purpose (the Go original let one "scoped" cache
    become a global bag): one per host (``Context.shared_data``) and one per run
    (``Context.cluster_data``) for values made on one host and read on others.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._values: dict[str, Any] = {}

    def set(self, key: str, value: Any) -> None:
        self._values[key] = value

    def get(self, key: str) -> Any:
        try:
            return self._values[key]
        except KeyError:
            raise MissingDataError(self.name, key) from None

    def get_or(self, key: str, default: Any) -> Any:
        return self._values.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def keys(self) -> list[str]:
        return list(self._values)


@dataclass(slots=True)
class Context:
    """The dynamic context passed to each step on one host (the seed's Context).

    Cancellation is the asyncio task's own; ``deadline`` (monotonic seconds) bounds the work.
    """

    host: Host
    cluster: ClusterRuntime
    logger: structlog.stdlib.BoundLogger
    shared_data: DataStore
    cluster_data: DataStore
    deadline: float | None = None

    @property
    def runner(self) -> Runner:
        return self.host.runner

    def remaining(self) -> float | None:
        """Seconds left before the deadline, or None when there is none."""
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - time.monotonic())

    def check_deadline(self) -> None:
        """Raise TimeoutError when the deadline has passed."""
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise TimeoutError(f"{self.host.name}: deadline passed")

    async def sleep(self, seconds: float) -> None:
        """Sleep, but never past the deadline."""
        remaining = self.remaining()
        await asyncio.sleep(seconds if remaining is None else min(seconds, remaining))
