"""structlog configuration for the CLI: human lines on a terminal, JSON lines on request."""

from __future__ import annotations

import functools
import logging
import sys
from typing import TYPE_CHECKING, Literal

from kubexms._log import defer_configuration, drop_deferred_configuration

if TYPE_CHECKING:
    import structlog

LogFormat = Literal["console", "json"]


def configure_logging(level: str = "warning", fmt: LogFormat = "console") -> None:
    """Send structured logs to stderr so stdout stays clean for command output.

    If structlog is not loaded yet, it is configured when a message at or above ``level``
    first needs it (kubexms._log): a run that logs nothing never imports it.
    """
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.WARNING)
    if "structlog" in sys.modules:
        drop_deferred_configuration()
        _configure(numeric, fmt)
    else:
        defer_configuration(numeric, functools.partial(_configure, numeric, fmt))


def _configure(numeric: int, fmt: LogFormat) -> None:
    import structlog

    renderer: structlog.typing.Processor
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        # The stderr of the moment, not of configuration time: a caller that swaps sys.stderr
        # (a test runner capturing output) and closes it must not break later logging.
        logger_factory=_current_stderr_logger,
        cache_logger_on_first_use=False,
    )


def _current_stderr_logger(*args: object) -> structlog.PrintLogger:
    import structlog

    return structlog.PrintLogger(sys.stderr)
