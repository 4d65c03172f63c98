"""Commands declared by name, imported only when they run (or show their own help).

A command is declared by its path, where it lives and its one-line help::

    LazyCommand("etcd", "kubexms.cli._etcd:app", "Check, back up and restore etcd.")

The target is a ``typer.Typer`` (a group: the help given here is its help, as ``add_typer(...,
help=...)`` would set it) or a command function (its help comes from its docstring; the line
given here is what the parent's listing shows until the command is loaded). This module imports
neither typer nor any command module, so declaring commands costs nothing at start-up.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

__all__ = ["LazyCommand"]


@dataclass(frozen=True)
class LazyCommand:
    """A command known by name before its module is imported.

    ``path`` is its words from the root (``"facts"``, ``"create cluster"``); ``target`` is
    ``"module:attribute"``; ``help`` is the short help its parent's listing shows.
    """

    path: str
    target: str
    help: str

    @property
    def parent(self) -> str:
        return self.path.rpartition(" ")[0]

    @property
    def name(self) -> str:
        return self.path.rpartition(" ")[2]

    def load(self) -> Any:
        module, _, attribute = self.target.partition(":")
        return getattr(importlib.import_module(module), attribute)

    def build(self) -> Any:
        """The click command typer makes of the target, exactly as registering it eagerly would."""
        import typer
        import typer.main
        from typer.core import TyperGroup

        target = self.load()
        holder = typer.Typer()
        holder.callback()(_no_op)  # a group, so typer keeps the command's own name
        if isinstance(target, typer.Typer):
            holder.add_typer(target, name=self.name, help=self.help)
        elif callable(target):
            holder.command(self.name)(target)
        else:
            raise TypeError(f"{self.target} is neither a typer.Typer nor a command function")
        group = typer.main.get_command(holder)
        assert isinstance(group, TyperGroup)
        return group.commands[self.name]


def _no_op() -> None:
    """The holder group's callback; never run."""
