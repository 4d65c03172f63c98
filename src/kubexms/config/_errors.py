"""What a user sees when the cluster file is wrong: every issue, with its path and line."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kubexms._errors import KubexmsError

Loc = tuple[str | int, ...]
"""A location in the cluster file as YAML keys and list indices, e.g. ``("spec", "hosts", 2)``."""

Problem = tuple[Loc, str]
"""A problem found before line numbers are known: where, and what is wrong."""

_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")


def format_path(loc: Loc) -> str:
    """Render a location the way users write it: ``spec.hosts[2].port``.

    Keys that are not plain words (``docker.io``, label keys) are quoted in brackets so the
    path stays unambiguous: ``spec.registry.auths["docker.io"].password``.
    """
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part)}]"
    return out


@dataclass(frozen=True)
class ConfigIssue:
    """One thing wrong with a cluster file.

    ``path`` uses the YAML (camelCase) names with list indices in brackets, e.g.
    ``spec.hosts[2].port``; it is empty for problems with the file as a whole. ``line`` is the
    1-based line of the offending node (or of its nearest existing parent when the field is
    missing), ``None`` when the config did not come from YAML.
    """

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConfigError(KubexmsError):
    """The cluster file cannot be used; ``issues`` lists every problem found, not just the first."""

    def __init__(self, issues: Sequence[ConfigIssue], source: str = "cluster.yaml") -> None:
        self.issues: list[ConfigIssue] = list(issues)
        self.source = source
        super().__init__(self._render())

    def __reduce__(self) -> tuple[type[ConfigError], tuple[list[ConfigIssue], str]]:
        return (type(self), (self.issues, self.source))

    def _render(self) -> str:
        return "\n".join(self.format_issue(issue) for issue in self.issues)

    def format_issue(self, issue: ConfigIssue) -> str:
        """One issue as ``source:line: path: message`` (the line omitted when unknown)."""
        where = self.source if issue.line is None else f"{self.source}:{issue.line}"
        return f"{where}: {issue}"

    def __str__(self) -> str:
        return self._render()


def issues_at(entries: Iterable[tuple[Loc, str]]) -> list[ConfigIssue]:
    """Issues without line numbers, for configs checked outside of YAML loading."""
    return [ConfigIssue(format_path(loc), None, message) for loc, message in entries]
