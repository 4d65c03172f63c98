"""`kubexms exec` without typer, for invocations plain enough to read directly.

typer converts each parameter through a pydantic TypeAdapter it builds on every run; with
typer and pydantic imported that is ~0.15 s of CPU before the first host is contacted, as
much as the whole fan-out to 20 hosts. `parse_exec_argv` reads the arguments of
``kubexms exec`` when they are made only of its options in their plain forms, each once and
valid, then ``--`` and the command; for anything else (``--help``, a typo, a bad value, an
option after the command, the ``-fFILE`` form) it returns None and typer parses them as it
always did, with its own messages. A unit test holds it to typer's result on the arguments
both accept.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from kubexms.cli._exec_run import ExecOutput, ExecRequest

_WHOLE = re.compile(r"[1-9][0-9]{0,8}")
_DECIMAL = re.compile(r"[0-9]{1,9}(\.[0-9]{1,9})?")


def _path(value: str) -> Path | None:
    return Path(value)


def _text(value: str) -> str | None:
    return value


def _concurrency(value: str) -> int | None:
    return int(value) if _WHOLE.fullmatch(value) else None


def _timeout(value: str) -> float | None:
    if not _DECIMAL.fullmatch(value):
        return None
    seconds = float(value)
    return seconds if math.isfinite(seconds) and seconds >= 0.1 else None


def _output(value: str) -> ExecOutput | None:
    return ExecOutput(value) if value in ("text", "json") else None


# option spelling -> (ExecRequest field, converter of its value)
_VALUED: dict[str, tuple[str, Callable[[str], Any]]] = {
    "--file": ("file", _path),
    "-f": ("file", _path),
    "--role": ("role", _text),
    "--hosts": ("hosts", _text),
    "--concurrency": ("concurrency", _concurrency),
    "--timeout": ("timeout", _timeout),
    "--output": ("output", _output),
    "-o": ("output", _output),
}


def parse_exec_argv(argv: Sequence[str]) -> ExecRequest | None:
    """The request of ``kubexms exec ARGV`` (ARGV after ``exec``), or None if typer should
    read it."""
    values: dict[str, Any] = {}
    index = 0
    while index < len(argv):
        word = argv[index]
        if word == "--":
            command = tuple(argv[index + 1 :])
            if not command:
                return None
            return ExecRequest(command=command, **values)
        name, equals, inline = word.partition("=")
        if word == "--sudo":
            field, value = "sudo", True
        elif name in _VALUED and (equals == "" or name.startswith("--")):
            field, convert = _VALUED[name]
            if equals:
                raw = inline
            elif index + 1 < len(argv):
                index += 1
                raw = argv[index]
            else:
                return None
            # An empty value or one that looks like an option is typer's to judge.
            if not raw or raw.startswith("-"):
                return None
            value = convert(raw)
            if value is None:
                return None
        else:
            return None  # an unknown word, --help, or the command without --
        if field in values:
            return None  # given twice: typer keeps the last one, and says nothing
        values[field] = value
        index += 1
    return None
