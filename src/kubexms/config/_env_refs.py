"""`${ENV_VAR}` references in string values, resolved from the environment at load time."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from kubexms.config._errors import Loc

# `${NAME}` is a reference; `$${NAME}` is the literal text `${NAME}`. A `${` without its `}`
# is matched too (group 3 empty), so it is reported rather than kept as literal text.
_REFERENCE = re.compile(r"\$(\$?)\{([^}]*)(\}?)")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_UNFINISHED = (
    "has a '${' without its closing '}': write ${NAME} for an environment variable, "
    "or $${ for a literal '${'"
)


@dataclass
class Substitution:
    """The data with references replaced, the original text of each replaced value by location,
    and a problem per unusable reference (never including any variable's value)."""

    data: object
    originals: dict[Loc, str] = field(default_factory=dict)
    problems: list[tuple[Loc, str]] = field(default_factory=list)


def substitute_env(data: object, environ: Mapping[str, str]) -> Substitution:
    """Replace every `${NAME}` in string values (not keys) with the variable's value."""
    result = Substitution(data=None)
    result.data = _walk(data, (), environ, result)
    return result


def _walk(value: object, loc: Loc, environ: Mapping[str, str], out: Substitution) -> object:
    if isinstance(value, dict):
        return {key: _walk(item, (*loc, str(key)), environ, out) for key, item in value.items()}
    if isinstance(value, list):
        return [_walk(item, (*loc, index), environ, out) for index, item in enumerate(value)]
    if isinstance(value, str) and "${" in value:
        return _resolve(value, loc, environ, out)
    return value


def _resolve(text: str, loc: Loc, environ: Mapping[str, str], out: Substitution) -> str:
    missing: list[str] = []
    invalid: list[str] = []
    unfinished = False

    def replace(match: re.Match[str]) -> str:
        nonlocal unfinished
        escaped, name, closed = match.group(1), match.group(2), match.group(3)
        if escaped:
            return "${" + name + closed
        if not closed:
            unfinished = True  # the rest of the text is not shown: it may be a secret
            return match.group(0)
        if not _NAME.fullmatch(name):
            invalid.append(name)
            return match.group(0)
        if name not in environ:
            missing.append(name)
            return match.group(0)
        return environ[name]

    resolved = _REFERENCE.sub(replace, text)
    if unfinished:
        out.problems.append((loc, _UNFINISHED))
    for name in invalid:
        out.problems.append(
            (
                loc,
                f"'${{{name}}}' is not a valid environment variable reference: a name is letters, "
                "digits and '_', not starting with a digit (write $${ for a literal '${')",
            )
        )
    for name in missing:
        out.problems.append((loc, f"environment variable {name} is not set"))
    if resolved != text:
        out.originals[loc] = text
    return resolved


def restore_references(data: object, originals: Mapping[Loc, str]) -> object:
    """Put the original `${NAME}` text back wherever a resolved value came from one."""
    for loc, original in originals.items():
        if not loc:
            continue
        container: object = data
        for part in loc[:-1]:
            container = _child(container, part)
        key = loc[-1]
        if isinstance(container, dict) and key in container:
            container[key] = original
        if isinstance(container, list) and isinstance(key, int) and key < len(container):
            container[key] = original
    return data


def _child(container: object, part: str | int) -> object:
    if isinstance(container, dict):
        return container.get(part)
    if isinstance(container, list) and isinstance(part, int) and part < len(container):
        return container[part]
    return None
