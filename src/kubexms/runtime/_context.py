"""Context: what each step receives, and the two explicit data stores."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from kubexms._errors import KubexmsError
from kubexms.runner import Runner
from kubexms.runtime._host import Host

if TYPE_CHECKING:
    import structlog

    from kubexms.runtime._runtime import ClusterRuntime


T = TypeVar("T")
D = TypeVar("D")


class DataKey(Generic[T]):
    """A typed name for a value in a DataStore: ``JOIN_TOKEN = DataKey("join-token", str)``.

    Storing through a key checks the value's type (``kind``), and reading through it gives a
    value of that type to the type checker. Keys compare by name.
    """

    __slots__ = ("kind", "name")

    def __init__(self, name: str, kind: type[T]) -> None:
        if not name:
            raise ValueError("a data key needs a name")
        self.name = name
        self.kind = kind

    def __repr__(self) -> str:
        return f"DataKey({self.name!r}, {getattr(self.kind, '__name__', self.kind)})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DataKey) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)


def _key_name(key: str | DataKey[Any]) -> str:
    return key.name if isinstance(key, DataKey) else key


class MissingDataError(KeyError, KubexmsError):
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

    @overload
    def set(self, key: DataKey[T], value: T) -> None: ...
    @overload
    def set(self, key: str, value: Any) -> None: ...
    def set(self, key: str | DataKey[Any], value: Any) -> None:
        """Store ``value``; through a DataKey, a value of another type raises TypeError."""
        if isinstance(key, DataKey) and not isinstance(value, key.kind):
            raise TypeError(
                f"{self.name}: {key.name!r} holds {key.kind.__name__}, not {type(value).__name__}"
            )
        self._values[_key_name(key)] = value

    @overload
    def get(self, key: DataKey[T]) -> T: ...
    @overload
    def get(self, key: str) -> Any: ...
    def get(self, key: str | DataKey[Any]) -> Any:
        """The value of ``key``; MissingDataError naming the key if no step wrote it."""
        name = _key_name(key)
        try:
            return self._values[name]
        except KeyError:
            raise MissingDataError(self.name, name) from None

    @overload
    def get_or(self, key: DataKey[T], default: D) -> T | D: ...
    @overload
    def get_or(self, key: str, default: Any) -> Any: ...
    def get_or(self, key: str | DataKey[Any], default: Any) -> Any:
        return self._values.get(_key_name(key), default)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, DataKey):
            return key.name in self._values
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
