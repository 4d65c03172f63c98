"""The integration and e2e tiers run against a simulated fleet started once per test session.

``fleet`` brings up ``KUBEXMS_TEST_FLEET_SIZE`` hosts (default 20) of the kind named by
``KUBEXMS_TEST_FLEET_INIT`` (systemd or minimal; default: systemd where the machine can run it)
in a temporary directory, and removes them at the end of the session, also when the session
fails or is interrupted. Every test that uses it carries the ``fleet`` marker, so
``pytest -m "not fleet"`` runs everything that needs no root and no fleet.
"""

from __future__ import annotations

import asyncio
import atexit
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import pytest
import pytest_asyncio

from kubexms.sandbox import MAX_HOSTS, Fleet, InitKind, SandboxError, fleet_down, fleet_up

FLEET_SIZE_ENV = "KUBEXMS_TEST_FLEET_SIZE"
FLEET_INIT_ENV = "KUBEXMS_TEST_FLEET_INIT"
DEFAULT_FLEET_SIZE = 20
NOT_ROOT_REASON = "the simulated fleet needs root (network namespaces, mounts, bridges)"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "fleet" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.fleet)


def fleet_size() -> int:
    """The session fleet's size from the environment."""
    raw = os.environ.get(FLEET_SIZE_ENV, str(DEFAULT_FLEET_SIZE))
    try:
        size = int(raw)
    except ValueError:
        raise pytest.UsageError(f"{FLEET_SIZE_ENV}={raw!r} is not a number") from None
    if not 1 <= size <= MAX_HOSTS:
        raise pytest.UsageError(f"{FLEET_SIZE_ENV}={size} is outside 1..{MAX_HOSTS}")
    return size


def fleet_init() -> InitKind | None:
    """The session fleet's kind of host from the environment (None: the default)."""
    raw = os.environ.get(FLEET_INIT_ENV, "").strip()
    if not raw:
        return None
    if raw not in ("systemd", "minimal"):
        raise pytest.UsageError(f"{FLEET_INIT_ENV}={raw!r}: expected systemd or minimal")
    return cast(InitKind, raw)


def require_root() -> None:
    """Skip the calling test or fixture unless running as root."""
    if os.geteuid() != 0:
        pytest.skip(NOT_ROOT_REASON)


def _remove_at_exit(directory: Path) -> None:
    """Last resort for a session that ended without fixture teardown (e.g. Ctrl-C)."""

    def remove() -> None:
        if (directory / "fleet.json").exists():
            asyncio.run(fleet_down(directory))

    atexit.register(remove)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def fleet(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Fleet]:
    """The session's simulated fleet (read the module docstring for the knobs)."""
    require_root()
    size, init = fleet_size(), fleet_init()
    directory = tmp_path_factory.mktemp("fleet")
    _remove_at_exit(directory)
    try:
        started = await fleet_up(size, directory, init=init)
    except SandboxError as error:
        pytest.fail(f"could not start the simulated fleet: {error}", pytrace=False)
    try:
        yield started
    finally:
        await fleet_down(directory)
