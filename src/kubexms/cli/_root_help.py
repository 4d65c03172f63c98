"""``kubexms --help`` without importing typer: the same panels, drawn with rich directly.

Importing typer and its rich help module costs about 0.2 s, most of the start-up of a
``kubexms --help``. The root's help is fixed (its options) or declared (the commands' lines in
``COMMANDS``), so it is drawn here with the same rich tables, panels, styles and highlighters
typer uses. tests/unit/cli pins the output byte for byte against typer's own at several
terminal widths, with and without colour; any other invocation goes through typer.
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Sequence
from typing import Any

from rich.align import Align
from rich.columns import Columns
from rich.console import Console, Group
from rich.highlighter import RegexHighlighter
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from rich.theme import Theme

__all__ = ["ROOT_OPTIONS", "print_root_help", "program_name", "wants_root_help"]

# (long option, short option, type, help, default): the root callback's options and typer's.
ROOT_OPTIONS: tuple[tuple[str, str, str, str, str | None], ...] = (
    ("--log-level", "", "<str>", "debug, info, warning or error.", "warning"),
    ("--log-format", "", "<str>", "console or json (logs go to stderr).", "console"),
    ("--version", "", "<bool>", "Print version.", None),
    ("--install-completion", "", "<bool>", "Install completion for the current shell.", None),
    (
        "--show-completion",
        "",
        "<bool>",
        "Show completion for the current shell, to copy it or customize the installation.",
        None,
    ),
    ("--help", "-h", "<bool>", "Show this message and exit.", None),
)


class _OptionHighlighter(RegexHighlighter):
    highlights = [  # noqa: RUF012  (rich's own shape for highlighters)
        r"(^|\W)(?P<switch>\-\w+)(?![a-zA-Z0-9])",
        r"(^|\W)(?P<option>\-\-[\w\-]+)(?![a-zA-Z0-9])",
        r"(?P<types>\<[^\>]+\>)",
        r"(?P<usage>Usage: )",
    ]


class _TypesHighlighter(RegexHighlighter):
    highlights = [  # noqa: RUF012
        r"^(?P<types_sep>(\[|<))",
        r"(?P<types_sep>\|)",
        r"(?P<types_sep>(\]|>))(\.\.\.)?$",
    ]


_HIGHLIGHT = _OptionHighlighter()
_TYPES = _TypesHighlighter()


def wants_root_help(argv: Sequence[str]) -> bool:
    """Is this exactly ``kubexms --help`` (or ``-h``), with nothing that changes typer's output?"""
    if list(argv) not in (["--help"], ["-h"]):
        return False
    # Plain (non-rich) help and shell completion stay typer's.
    return "TYPER_USE_RICH" not in os.environ and "_KUBEXMS_COMPLETE" not in os.environ


def program_name() -> str:
    """The program name click would show: ``kubexms``, or ``python -m kubexms``."""
    main = sys.modules.get("__main__")
    path = sys.argv[0]
    package = getattr(main, "__package__", None)
    if package in (None, ""):
        return os.path.basename(path)
    name = os.path.splitext(os.path.basename(path))[0]
    module = package if name == "__main__" else f"{package}.{name}"
    return f"python -m {module.lstrip('.')}"


def _console() -> Console:
    force: bool | None = (
        True
        if os.getenv("GITHUB_ACTIONS") or os.getenv("FORCE_COLOR") or os.getenv("PY_COLORS")
        else None
    )
    if os.getenv("_TYPER_FORCE_DISABLE_TERMINAL"):
        force = False
    width = os.getenv("TERMINAL_WIDTH")
    return Console(
        theme=Theme(
            {
                "option": "bold cyan",
                "switch": "bold green",
                "negative_option": "bold magenta",
                "negative_switch": "bold red",
                "types": "bold yellow",
                "types_sep": "dim",
                "usage": "yellow",
            }
        ),
        highlighter=_HIGHLIGHT,
        color_system="auto",
        force_terminal=force,
        width=int(width) if width else None,
    )


def _rich_text(text: str) -> Text:
    return _HIGHLIGHT(Text.from_markup(inspect.cleandoc(text), style=""))


def _options_panel() -> Panel:
    table = Table(
        highlight=True,
        show_header=False,
        expand=True,
        box=None,
        show_lines=False,
        leading=0,
        border_style=None,
        row_styles=None,
        pad_edge=False,
        padding=(0, 1),
    )
    for long, short, kind, help_text, default in ROOT_OPTIONS:
        types = Text(style="bold yellow", overflow="fold")
        types.append(kind)
        items: list[Any] = [_rich_text(help_text)]
        if default is not None:
            items.append(Text(f"[default: {default}]", style="dim"))
        table.add_row(
            _HIGHLIGHT(long),
            _HIGHLIGHT(short),
            _HIGHLIGHT(""),
            _HIGHLIGHT(""),
            _TYPES(types),
            Columns(items),
        )
    return Panel(table, border_style="dim", title="Options", title_align="left")


def _commands_panel(commands: Sequence[tuple[str, str]]) -> Panel:
    table = Table(
        highlight=False,
        show_header=False,
        expand=True,
        box=None,
        show_lines=False,
        leading=0,
        border_style=None,
        row_styles=None,
        pad_edge=False,
        padding=(0, 1),
    )
    table.add_column(style="bold cyan", no_wrap=True, width=max(len(n) for n, _ in commands))
    table.add_column("Description", justify="left", no_wrap=False, ratio=10)
    for name, help_text in commands:
        first = inspect.cleandoc(help_text).split("\n\n")[0]
        table.add_row(Text(name), _rich_text(first.strip()))
    return Panel(table, border_style="dim", title="Commands", title_align="left")


def print_root_help(description: str, commands: Sequence[tuple[str, str]]) -> None:
    """Print the root's help as typer would: usage, description, options, commands."""
    console = _console()
    usage = f"Usage: {program_name()} [OPTIONS] COMMAND [ARGS]..."
    console.print(Padding(_HIGHLIGHT(usage), 1), style="bold")
    console.print(Padding(Align(Group(_rich_text(description)), pad=False), (0, 1, 1, 1)))
    console.print(_options_panel())
    console.print(_commands_panel(commands))
    sys.stdout.write("\n")
    sys.stdout.flush()
