"""The consoles commands print to."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape

if TYPE_CHECKING:
    from kubexms.config import ConfigError

err_console = Console(stderr=True, soft_wrap=True)
"""Where commands write errors, warnings and progress. Messages are not hard-wrapped: a path or
host name cut at column 80 of a log or CI output cannot be searched for or copied."""

# Off a terminal rich would wrap tables at 80 columns, which mangles names and URLs in logs and
# CI output; give long lines room instead.
_PIPE_WIDTH = 200


def output_console(*, stderr: bool = False) -> Console:
    """A console on stdout (or stderr), full width on a terminal and wide when piped."""
    stream = sys.stderr if stderr else sys.stdout
    return Console(file=stream, width=None if stream.isatty() else _PIPE_WIDTH, highlight=False)


def report_config_error(error: ConfigError) -> None:
    """Print every issue of a `ConfigError` to stderr, one per line."""
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    count = len(error.issues)
    console.print(
        f"[bold red]{escape(error.source)}: {count} problem{'s' if count != 1 else ''}[/]"
    )
    for issue in error.issues:
        console.print(f"  [red]{escape(error.format_issue(issue))}[/]")
