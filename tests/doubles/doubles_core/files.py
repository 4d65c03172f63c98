"""Host paths and atomic writes of the doubles. ``KUBEXMS_DOUBLE_ROOT`` (the doubles' own unit
tests) moves every absolute path under another directory; on a fleet host it is unset."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[3]
CHECKOUT_DATA = {
    "flags": CHECKOUT / "src" / "kubexms" / "kubernetes" / "binary" / "flags",
    "schemas": CHECKOUT / "tests" / "fixtures" / "k8s_schemas",
}
"""The data the doubles read (kubexms's flag lists, the configuration schemas) in the checkout;
a release file carries copies in ``doubles_core/data/<kind>/`` (``bundle.add_core``)."""


def data_text(kind: str, name: str) -> str:
    """A data file (``flags`` or ``schemas``): the release file's copy, else the checkout's.
    FileNotFoundError when neither exists."""
    packaged = resources.files(__package__ or "doubles_core").joinpath("data", kind, name)
    if packaged.is_file():
        return packaged.read_text()
    return (CHECKOUT_DATA[kind] / name).read_text()


def root() -> Path:
    return Path(os.environ.get("KUBEXMS_DOUBLE_ROOT", "/"))


def host(path: str) -> Path:
    """Where the absolute ``path`` of the host is for this double."""
    return root() / path.lstrip("/")


def write(path: str, data: bytes, mode: int = 0o600, *, under: Path | None = None) -> None:
    """``path`` holds ``data`` with ``mode``, written whole or not at all (a temporary file
    beside it, then renamed), as the real binaries write their files."""
    target = (under or root()) / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.double")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(temp, mode)
    os.replace(temp, target)
    print(f"wrote {path}", flush=True)
