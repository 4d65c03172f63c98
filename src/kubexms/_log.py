"""kubexms's loggers: structlog's, with structlog itself imported on a logger's first real use.

Importing structlog imports all of it (its dev renderer pulls in rich's tracebacks and
pygments): ~0.06 s of CPU, a tenth of a ``kubexms exec``'s start-up, spent on messages that the
default level (warning) drops. So the CLI's ``configure_logging`` only records its level when
structlog is not loaded yet; a call below that level is dropped here, as structlog's filtering
logger would drop it, and the first call at or above it (or any other use of a logger but
``bind``, which is recorded for later) imports structlog, applies the recorded configuration and
goes to structlog.

Every kubexms module gets its logger from ``get_logger``, never from structlog directly, so
that no message reaches structlog before its configuration.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from structlog.stdlib import BoundLogger

__all__ = ["defer_configuration", "drop_deferred_configuration", "get_logger"]

# structlog's (and the stdlib's) numeric levels of the filtering logger's methods.
_METHOD_LEVELS = {
    "debug": 10,
    "info": 20,
    "warning": 30,
    "warn": 30,
    "error": 40,
    "exception": 40,
    "critical": 50,
    "fatal": 50,
}


class _Deferred:
    """The configuration recorded before structlog was loaded, applied when it is."""

    level: int | None = None
    configure: Callable[[], None] | None = None


def defer_configuration(level: int, configure: Callable[[], None]) -> None:
    """Drop calls below ``level`` until structlog is needed; then run ``configure`` first."""
    _Deferred.level = level
    _Deferred.configure = configure


def drop_deferred_configuration() -> None:
    """Forget a recorded configuration (structlog was configured directly since)."""
    _Deferred.configure = _Deferred.level = None


def _load_structlog() -> Any:
    import structlog

    configure = _Deferred.configure
    if configure is not None:
        _Deferred.configure = _Deferred.level = None
        configure()
    return structlog


def _drop(*args: object, **kwargs: object) -> None:
    return None


class _LazyLogger:
    __slots__ = ("_bound", "_logger", "_name")

    def __init__(self, name: str, bound: dict[str, Any] | None = None) -> None:
        self._name = name
        self._bound: dict[str, Any] = bound or {}
        self._logger: Any = None

    def bind(self, **values: Any) -> Any:
        """Context for later messages; structlog is still not loaded (the engine binds a
        logger to every step's context, mostly never to log anything)."""
        if self._logger is not None:
            return self._logger.bind(**values)
        return _LazyLogger(self._name, {**self._bound, **values})

    def __getattr__(self, attribute: str) -> Any:
        if self._logger is None:
            level = _Deferred.level
            if level is not None and _METHOD_LEVELS.get(attribute, level) < level:
                return _drop
            logger = _load_structlog().stdlib.get_logger(self._name)
            self._logger = logger.bind(**self._bound) if self._bound else logger
        return getattr(self._logger, attribute)


def get_logger(name: str) -> BoundLogger:
    """structlog's logger of this name (``structlog.stdlib.get_logger``), loaded on first use."""
    return cast("BoundLogger", _LazyLogger(name))
