"""The consoles commands print to."""

from __future__ import annotations

import sys

from rich.console import Console

# Off a terminal rich would wrap tables at 80 columns, which mangles names and URLs in logs and
# CI output; give long lines room instead.
_PIPE_WIDTH = 200


def output_console(*, stderr: bool = False) -> Console:
    """A console on stdout (or stderr), full width on a terminal and wide when piped."""
    stream = sys.stderr if stderr else sys.stdout
    return Console(file=stream, width=None if stream.isatty() else _PIPE_WIDTH, highlight=False)
