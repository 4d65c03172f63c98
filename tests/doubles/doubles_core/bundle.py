"""What a double's release file carries of the core (used on the test side when tests build
the zipapps; never run on a host)."""

from __future__ import annotations

import shutil
from pathlib import Path

from .files import CHECKOUT_DATA

PACKAGE = Path(__file__).resolve().parent


def add_core(staging: Path) -> None:
    """``staging/doubles_core``: this package with copies of the flag lists and the schemas
    it reads, so the release file runs from wherever kubexms places it."""
    target = staging / PACKAGE.name
    shutil.copytree(PACKAGE, target, ignore=shutil.ignore_patterns("__pycache__", "bundle.py"))
    for kind, source in CHECKOUT_DATA.items():
        pattern = "*.yaml" if kind == "flags" else "*.json"
        (target / "data" / kind).mkdir(parents=True)
        for item in sorted(source.glob(pattern)):
            shutil.copyfile(item, target / "data" / kind / item.name)
