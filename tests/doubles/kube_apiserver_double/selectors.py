"""Label and field selectors as list and watch requests carry them."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .errors import bad_request

Matcher = Callable[[dict[str, Any]], bool]
_SET = re.compile(r"^\s*(!?)([\w./-]+)\s*(?:(in|notin)\s*\(([^)]*)\)|(==|=|!=)\s*([\w./-]*))?\s*$")


def _split(selector: str) -> list[str]:
    """Split on commas outside parentheses."""
    parts, depth, current = [], 0, ""
    for char in selector:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current)
    return parts


def _requirement(
    negate: bool, key: str, op: str, values: str | None, value: str | None
) -> Callable[[dict[str, str]], bool]:
    chosen = {v.strip() for v in (values or "").split(",") if v.strip()}

    def holds(labels: dict[str, str]) -> bool:
        if op == "in":
            return labels.get(key) in chosen
        if op == "notin":
            return labels.get(key) not in chosen
        if op in ("=", "=="):
            return labels.get(key) == value
        if op == "!=":
            return labels.get(key) != value
        return (key in labels) != negate

    return holds


def label_matcher(selector: str) -> Matcher:
    requirements: list[Callable[[dict[str, str]], bool]] = []
    for part in _split(selector):
        match = _SET.match(part)
        if match is None:
            raise bad_request(f"unable to parse requirement: {part!r}")
        negate, key, set_op, values, op, value = match.groups()
        requirements.append(_requirement(negate == "!", key, set_op or op or "", values, value))

    def matches(document: dict[str, Any]) -> bool:
        labels = document.get("metadata", {}).get("labels") or {}
        return all(requirement(labels) for requirement in requirements)

    return matches


def _field(document: dict[str, Any], path: str) -> str:
    current: Any = document
    for part in path.split("."):
        current = current.get(part) if isinstance(current, dict) else None
    return "" if current is None else str(current)


def field_matcher(selector: str) -> Matcher:
    requirements: list[tuple[str, bool, str]] = []
    for part in _split(selector):
        key, op, value = re.split(r"(==|!=|=)", part, maxsplit=1) if "=" in part else (part, "", "")
        if not op:
            raise bad_request(f"invalid field selector: {part!r}")
        requirements.append((key.strip(), op != "!=", value.strip()))

    def matches(document: dict[str, Any]) -> bool:
        return all((_field(document, k) == v) == equal for k, equal, v in requirements)

    return matches
