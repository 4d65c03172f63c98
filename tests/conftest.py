"""The integration and e2e tiers run against a simulated fleet started once per test session.

Tests take hosts with the ``lease`` fixture, never by index from ``fleet.hosts``::

    async def test_x(lease: LeaseHosts, tmp_path: Path) -> None:
        hosts = lease(2)                  # or lease(1, init="systemd"); skips with a reason
        await hosts.run(hosts[0], "id")   # as root inside the host
        async with hosts.runner(hosts[1], "ops") as runner: ...
        cluster = hosts.cluster_file(tmp_path)   # a cluster file of the leased hosts only

The hosts are the test's alone until its teardown. A module- or session-scoped fixture holds
hosts with ``with fleet_pool.lease(n, holder=__name__) as hosts:``. tests/leasing.py has the rest.

``fleet`` brings up ``KUBEXMS_TEST_FLEET_SIZE`` hosts (default 20) of the kind named by
``KUBEXMS_TEST_FLEET_INIT`` (systemd or minimal; default: systemd where the machine can run it)
in a temporary directory, and removes them at the end of the session, also when the session
fails or is interrupted. Every test that uses it carries the ``fleet`` marker, so
``pytest -m "not fleet"`` runs everything that needs no root and no fleet.
"""

from __future__ import annotations

import asyncio
import atexit
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from kubexms.sandbox import Fleet, SandboxError, fleet_down, fleet_up
from tests.kubeadm_shared import (  # the fixtures of the shared cluster, known everywhere
    SHARED_BY,
    kubeadm_shared,  # noqa: F401
    kubeadm_shared_session,  # noqa: F401
)
from tests.leasing import (
    HostLease,
    HostPool,
    Init,
    LeaseHosts,
    fleet_init,
    fleet_size,
    require_root,
)

FLEET_FIXTURES = {"fleet", "fleet_pool", "lease"}


def pytest_configure(config: pytest.Config) -> None:
    # A suite started in the background by a non-interactive shell (`cmd &`, nohup) inherits
    # SIGINT ignored, and every kubexms it starts would too: the Ctrl-C cases (interrupted
    # restore, the fault matrix) could not interrupt anything. Tests send SIGINT on purpose.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if FLEET_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.fleet)


SHARED_BY_MODULES: dict[str, str] = dict.fromkeys(SHARED_BY, "kubeadm-shared-cluster")
"""Test files that share a session-scoped fixture (a cluster built once), by the name of what
they share: under pytest-xdist they run on the same worker, so it is built once."""


def _unit_tier(nodeid_or_file: str) -> bool:
    return nodeid_or_file.startswith("tests/unit/")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``-n N`` (pytest-xdist): whole test files go to a worker, never single tests, so a
    module-scoped cluster is built once; the files of one ``SHARED_BY_MODULES`` entry go
    together. Each worker is a test session of its own, with its own fleet."""
    if config.getvalue("dist") != "load":
        return None  # an explicit --dist keeps pytest-xdist's own scheduler
    from xdist.scheduler import LoadScopeScheduling

    class WholeFiles(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return SHARED_BY_MODULES.get(path, path)

        def _assign_work_unit(self, node: Any) -> None:
            # A worker is sent its next file while it still runs its current one (it needs the
            # next test in hand). Behind a fleet test, that next file is a unit-tier one
            # (seconds), not another fleet file that would wait there for minutes while the
            # other worker runs out of work; the fleet files keep their order (longest first).
            pending = self.assigned_work.get(node, {}).values()
            running_fleet = any(
                not done and not _unit_tier(test)
                for tests in pending
                for test, done in tests.items()
            )
            cheap = [scope for scope in self.workqueue if _unit_tier(scope)]
            if running_fleet and cheap:
                self.workqueue.move_to_end(cheap[-1], last=False)
            super()._assign_work_unit(node)

    return WholeFiles(config, log)


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


@pytest.fixture(scope="session")
def fleet_pool(fleet: Fleet, tmp_path_factory: pytest.TempPathFactory) -> HostPool:
    """Who holds which host of the session fleet; fixtures lease through it. Its
    ``packages_dir`` is the session's one directory of downloaded OS packages."""
    return HostPool(fleet, packages_dir=tmp_path_factory.mktemp("packages"))


@pytest.fixture
def lease(fleet_pool: HostPool, request: pytest.FixtureRequest) -> Iterator[LeaseHosts]:
    """``lease(count, init=None)``: hosts for this test alone, released at its teardown.

    Skips the test, saying how many hosts it needs, when the fleet is too small or of the other
    kind (``init="systemd"`` on a minimal fleet).
    """
    held: list[HostLease] = []

    def take(count: int, *, init: Init | None = None) -> HostLease:
        leased = fleet_pool.acquire(count, init=init, holder=request.node.nodeid)
        held.append(leased)
        return leased

    try:
        yield take
    finally:
        for leased in held:
            fleet_pool.release(leased)
