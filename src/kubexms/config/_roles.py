"""The roles a host can have: the cluster file's role groups (no pydantic here)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, get_args

Role = Literal["master", "worker", "etcd", "loadbalancer", "registry"]
"""A host's role: the one vocabulary of the cluster file's role groups, the artifact BOM's
``roles`` and the Engine's host selectors (``Roles``, ``FirstOf``)."""

ROLES: tuple[Role, ...] = get_args(Role)
"""The role groups, in the order they are documented."""


def unknown_roles(names: Iterable[str]) -> list[str]:
    """The names in ``names`` that are no role, in order."""
    return [name for name in names if name not in ROLES]
