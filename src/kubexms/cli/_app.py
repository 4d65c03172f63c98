"""The typer app behind ``kubexms``: the root group, its options, and the nested groups."""

from __future__ import annotations

from typing import Annotated

import typer

from kubexms import __version__
from kubexms.cli import COMMANDS, DESCRIPTION
from kubexms.cli._lazy import LazyGroup

__all__ = ["app", "create_app"]


class _RootGroup(LazyGroup):
    lazy_path = ""
    registry = COMMANDS


class _CreateGroup(LazyGroup):
    lazy_path = "create"
    registry = COMMANDS


app = typer.Typer(
    name="kubexms",
    cls=_RootGroup,
    help=DESCRIPTION,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
create_app = typer.Typer(
    cls=_CreateGroup, help="Create a cluster, or files kubexms works from.", no_args_is_help=True
)


@create_app.callback()
def _create() -> None:
    """Create a cluster, or files kubexms works from."""


def _version(value: bool) -> None:
    if value:
        typer.echo(f"kubexms {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    log_level: Annotated[
        str, typer.Option("--log-level", help="debug, info, warning or error.")
    ] = "warning",
    log_format: Annotated[
        str, typer.Option("--log-format", help="console or json (logs go to stderr).")
    ] = "console",
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print version.")
    ] = False,
) -> None:
    from kubexms._logging_setup import configure_logging  # structlog: only when a command runs

    configure_logging(log_level, "json" if log_format == "json" else "console")
