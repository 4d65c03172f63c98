"""A component's command-line flags for its version, read from the same data files kubexms
checks ``extraArgs`` against (``src/kubexms/kubernetes/binary/flags``), and pflag's parsing of
them with cobra's refusals."""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from .files import data_text


class FlagError(Exception):
    """The command line is refused: the message as cobra prints it (exit 1); ``reason`` is
    pflag's own part (``unknown flag: --x``), which some components wrap in their words."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def _minor_key(minor: str) -> tuple[int, int]:
    major, number = minor.split(".")[:2]
    return int(major), int(number)


def minor_of(version: str) -> str:
    """``1.32`` of ``v1.32.4``."""
    major, minor = version.lstrip("v").split(".")[:2]
    return f"{major}.{minor}"


def _apply(base: set[str], changes: Mapping[str, Any], minor: str) -> set[str]:
    for at in sorted(changes, key=_minor_key):
        if _minor_key(at) > _minor_key(minor):
            break
        change = changes[at] or {}
        base |= set(change.get("added", ()))
        base -= set(change.get("removed", ()))
    return base


def component_flags(component: str, minor: str) -> frozenset[str]:
    """The flags of ``component`` at ``minor``, read as kubexms reads its data files."""
    common = yaml.safe_load(data_text("flags", "_common.yaml"))
    document = yaml.safe_load(data_text("flags", f"{component}.yaml"))
    flags = set(document["flags"])
    for group in document["groups"]:
        members = set(common["groups"][group])
        flags |= _apply(members, (common.get("changes") or {}).get(group, {}), minor)
    return frozenset(_apply(flags, document.get("changes") or {}, minor))


def parse(component: str, version: str, argv: Sequence[str]) -> dict[str, str]:
    """``argv`` as flags of ``component`` at ``version`` (pflag's ``--name=value`` and bare
    ``--name`` for true); FlagError as cobra words it. ``--version`` and ``--help`` are
    answered here (the process ends)."""
    known = component_flags(component, minor_of(version))
    flags: dict[str, str] = {}
    for word in argv:
        if not word.startswith("--"):
            reason = f'unknown command "{word}" for "{component}"'
            raise FlagError(f"Error: {reason}", reason)
        name, has_value, value = word[2:].partition("=")
        if name not in known:
            reason = f"unknown flag: --{name}"
            raise FlagError(f"Error: {reason}\nRun '{component} --help' for usage.", reason)
        flags[name] = value if has_value else "true"
    if "version" in flags:
        print(f"Kubernetes {version} (kubexms test double)", flush=True)
        sys.exit(0)
    if "help" in flags:
        print(f"{component} {version} (kubexms test double); flags: {' '.join(sorted(known))}")
        sys.exit(0)
    return flags


def parse_duration(text: str) -> float:
    """Seconds of a Go duration (``1m30s``, ``500ms``, ``24h0m0s``) as configurations give."""
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)(h|ms|m|s)", text):
        total += float(number) * {"h": 3600, "m": 60, "s": 1, "ms": 0.001}[unit]
    return total
