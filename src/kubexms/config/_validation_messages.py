"""Pydantic's validation errors rewritten as plain sentences at cluster-file paths."""

from __future__ import annotations

import datetime
import difflib
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from kubexms.config._errors import Loc, Problem
from kubexms.config._hosts import ROLES, RoleGroups
from kubexms.config._types import ERROR_TYPE

_FIXED_MESSAGES = {
    "missing": "is required",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "dict_type": "must be a mapping",
    "list_type": "must be a list",
    "path_type": "must be a file path",
}


def problems_from(exc: ValidationError, model: type[BaseModel], prefix: Loc = ()) -> list[Problem]:
    """One problem per pydantic error, located relative to ``model`` and prefixed with ``prefix``.

    Input values are never quoted (they may be secrets), except the value of an enum field.
    """
    problems: list[Problem] = []
    for error in exc.errors(include_url=False):
        loc = tuple(part for part in error["loc"] if part != "[key]")
        problems.append(((*prefix, *loc), _message(error, model, loc)))
    return problems


def _message(error: ErrorDetails, model: type[BaseModel], loc: Loc) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == ERROR_TYPE:
        return str(ctx.get("reason", error["msg"]))
    if kind in _FIXED_MESSAGES:
        return _FIXED_MESSAGES[kind]
    if kind == "string_type":
        quoted_hint = isinstance(error["input"], int | float | bool | datetime.date)
        return "must be a string" + (" (put the value in quotes)" if quoted_hint else "")
    if kind == "literal_error":
        got = error["input"]
        shown = f" (got {got!r})" if isinstance(got, str | int | float | bool) else ""
        return f"must be one of {ctx.get('expected', '')}{shown}"
    if kind == "extra_forbidden":
        return _unknown_field_message(model, loc)
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind == "too_short":
        minimum = ctx.get("min_length", 1)
        return "must not be empty" if minimum == 1 else f"must have at least {minimum} items"
    return str(error["msg"])


def _unknown_field_message(model: type[BaseModel], loc: Loc) -> str:
    if not loc:
        return "unknown field"
    key = str(loc[-1])
    owner = _model_at(model, loc[:-1])
    if owner is RoleGroups:
        return f"unknown role group '{key}'" + _suggestion(key, list(ROLES))
    if owner is None:
        return f"unknown field '{key}'"
    names = [field.alias or name for name, field in owner.model_fields.items()]
    return f"unknown field '{key}'" + _suggestion(key, names)


def _suggestion(key: str, candidates: list[str]) -> str:
    lowered = {candidate.lower(): candidate for candidate in candidates}
    if key.lower() in lowered:
        return f"; did you mean '{lowered[key.lower()]}'?"
    close = difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
    if close:
        return f"; did you mean '{close[0]}'?"
    return f"; expected one of {', '.join(candidates)}"


def _model_at(root: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The model class found by following ``loc`` through field annotations from ``root``."""
    current: Any = root
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel) and isinstance(part, str):
            field = _field(current, part)
            if field is None:
                return None
            current = field
        elif typing.get_origin(current) is list and isinstance(part, int):
            current = typing.get_args(current)[0]
        elif typing.get_origin(current) is dict and isinstance(part, str):
            current = typing.get_args(current)[1]
        else:
            return None
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return current
    return None


def _field(model: type[BaseModel], key: str) -> Any:
    for name, field in model.model_fields.items():
        if key in (name, field.alias):
            return field.annotation
    return None


def _unwrap(annotation: Any) -> Any:
    """Strip ``Annotated[...]`` and ``X | None`` down to ``X``."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation
