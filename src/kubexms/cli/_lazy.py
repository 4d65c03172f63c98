"""A typer group whose commands (kubexms.cli._commands.LazyCommand) are imported on use.

Listing a group's commands in ``--help`` shows the declared lines and imports nothing;
resolving a command to run it, or to show its own help, imports its module and builds it the
way typer always did.
"""

from __future__ import annotations

from collections.abc import Sequence
from difflib import get_close_matches
from typing import Any, ClassVar

from typer._click.exceptions import UsageError
from typer.core import TyperCommand, TyperGroup

from kubexms.cli._commands import LazyCommand

__all__ = ["LazyGroup"]


class LazyGroup(TyperGroup):
    """A typer group that also holds the lazy commands declared under its ``lazy_path``.

    Subclass it with ``lazy_path`` (``""`` for the root) and ``registry`` (every declaration,
    the subclass picks its own children) and pass the subclass as ``typer.Typer(cls=...)``.
    """

    lazy_path: ClassVar[str] = ""
    registry: ClassVar[Sequence[LazyCommand]] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._listing = False

    @classmethod
    def declared(cls) -> dict[str, LazyCommand]:
        return {entry.name: entry for entry in cls.registry if entry.parent == cls.lazy_path}

    def list_commands(self, ctx: Any) -> list[str]:
        names = list(self.commands)
        return names + [name for name in self.declared() if name not in self.commands]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        entry = self.declared().get(cmd_name)
        if entry is None:
            return None
        if self._listing:  # a line in this group's help: the declared text is enough
            return TyperCommand(name=cmd_name, help=entry.help, short_help=entry.help)
        command = entry.build()
        self.commands[cmd_name] = command
        return command

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        try:
            return self._click_resolve_command(ctx, args)
        except UsageError as error:  # typer's hint, over the lazy names as well
            if self.suggest_commands and args:
                matches = get_close_matches(args[0], self.list_commands(ctx))
                if matches:
                    suggestions = ", ".join(f"{match!r}" for match in matches)
                    error.message = f"{error.message.rstrip('.')}. Did you mean {suggestions}?"
            raise
