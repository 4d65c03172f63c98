"""Identical failures on many hosts, told once: "200 hosts: <step>: init is tini, not systemd".

Errors name their host first (``node7: ...``); without that prefix, the same step failing for
the same reason on many hosts is one message, with the hosts listed once beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

NAMES_SHOWN = 10


def without_host(host: str, error: str) -> str:
    """``error`` without the leading ``host: `` every error message starts with."""
    return error.removeprefix(f"{host}: ")


def host_list(hosts: list[str], limit: int | None = None) -> str:
    """``a, b, c``; with ``limit``, at most that many names and ``and N more``."""
    if limit is None or len(hosts) <= limit:
        return ", ".join(hosts)
    return ", ".join(hosts[:limit]) + f" and {len(hosts) - limit} more"


@dataclass(slots=True)
class FoldedFailure:
    """One failure text and every host it happened on, in the order they failed."""

    text: str
    hosts: list[str] = field(default_factory=list)

    @property
    def who(self) -> str:
        """The host's name, or "N hosts"."""
        return self.hosts[0] if len(self.hosts) == 1 else f"{len(self.hosts)} hosts"

    def headline(self) -> str:
        return f"{self.who}: {self.text}"


class FailureFolder:
    """Groups failure texts by equality, keeping the order in which each first appeared."""

    def __init__(self) -> None:
        self._groups: dict[str, FoldedFailure] = {}

    def add(self, host: str, text: str) -> FoldedFailure:
        group = self._groups.get(text)
        if group is None:
            group = self._groups[text] = FoldedFailure(text)
        if host not in group.hosts:
            group.hosts.append(host)
        return group

    def groups(self) -> list[FoldedFailure]:
        return list(self._groups.values())


def fold(failures: list[tuple[str, str]]) -> list[FoldedFailure]:
    """(host, text) pairs folded: one entry per distinct text, hosts in order."""
    folder = FailureFolder()
    for host, text in failures:
        folder.add(host, text)
    return folder.groups()
