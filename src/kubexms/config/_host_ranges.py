"""Host ranges in role groups: ``node[01:10]`` stands for node01, node02, ... node10."""

from __future__ import annotations

import re

_RANGE = re.compile(r"\[(\d+):(\d+)\]")
MAX_RANGE_SIZE = 10_000
"""More names than this from one pattern is surely a typo (and would exhaust memory)."""


def expand_host_pattern(pattern: str) -> list[str]:
    """Expand every ``[start:end]`` range (inclusive) in a host pattern, in order.

    A start written with a leading zero pads every number to its width (``[01:10]`` gives
    ``01 .. 10``); several ranges multiply out (``r[1:2]-n[1:2]`` gives four names). A pattern
    without brackets is a single host name. Raises `ValueError` for a malformed range.
    """
    match = _RANGE.search(pattern)
    if match is None:
        if "[" in pattern or "]" in pattern:
            raise ValueError(f"'{pattern}' has a malformed range; write it like node[1:3]")
        return [pattern]
    first, last = match.group(1), match.group(2)
    start, end = int(first), int(last)
    if start > end:
        raise ValueError(f"'{pattern}' has a range that counts down ({first} > {last})")
    width = len(first) if len(first) > 1 and first.startswith("0") else 0
    prefix, rest = pattern[: match.start()], pattern[match.end() :]
    if "[" in prefix or "]" in prefix:
        raise ValueError(f"'{pattern}' has a malformed range; write it like node[1:3]")
    tails = expand_host_pattern(rest)
    if (end - start + 1) * len(tails) > MAX_RANGE_SIZE:
        raise ValueError(f"'{pattern}' expands to more than {MAX_RANGE_SIZE} names")
    return [
        f"{prefix}{number:0{width}d}{tail}" for number in range(start, end + 1) for tail in tails
    ]
