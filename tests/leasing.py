"""Fleet hosts leased to one test (or one module fixture) at a time.

A test asks for the hosts it needs through the ``lease`` fixture (tests/conftest.py)::

    async def test_something(lease: LeaseHosts) -> None:
        hosts = lease(2, init="systemd")           # skips, saying why, when it cannot be met
        async with hosts.runner(hosts[0], user="ops") as runner: ...
        await hosts.run(hosts[1], "cat /etc/hostname")      # as root inside the host, asserts 0
        path = hosts.cluster_file(tmp_path)                  # a cluster file of these hosts only

The hosts are the test's alone until its teardown releases them; the least used free hosts are
given first, so a big fleet spreads tests over many hosts and a small one
(``KUBEXMS_TEST_FLEET_SIZE=3``) still runs every test that needs no more than three. A test
that needs more hosts than the fleet has skips with a reason that says how many it needs.
Never pick hosts by index from ``fleet.hosts``: another test may hold them.

A module that prepares its hosts the same way as others (``init os``'s packages: minutes of
dpkg on a loaded machine) leases with ``prefer=PACKAGES_INSTALLED``: it gets hosts an earlier such
lease had first, so the packages are installed once per host, not once per module. It is a
preference only: a host without them gets them from the run, as any host would.
"""

from __future__ import annotations

import copy
import os
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, Literal, Protocol, cast

import pytest
import yaml

from kubexms.config import load_config
from kubexms.runner import Runner
from kubexms.runtime import new_runtime
from kubexms.sandbox import MAX_HOSTS, Fleet, FleetHost
from kubexms.sandbox._cluster_file import role_groups

__all__ = [
    "FLEET_INIT_ENV",
    "FLEET_SIZE_ENV",
    "LOAD_BALANCER_PACKAGES_INSTALLED",
    "PACKAGES_INSTALLED",
    "HostLease",
    "HostPool",
    "LeaseHosts",
    "fleet_init",
    "fleet_size",
    "require_root",
]

FLEET_SIZE_ENV = "KUBEXMS_TEST_FLEET_SIZE"
FLEET_INIT_ENV = "KUBEXMS_TEST_FLEET_INIT"

DEFAULT_FLEET_SIZE = 20
NOT_ROOT_REASON = "the simulated fleet needs root (network namespaces, mounts, bridges)"

Init = Literal["systemd", "minimal"]

PACKAGES_INSTALLED = "node-packages"
"""A preparation hosts keep between leases: the OS packages ``init os`` installs."""
LOAD_BALANCER_PACKAGES_INSTALLED = "loadbalancer-packages"
"""haproxy, nginx and keepalived, as tests/loadbalancer_bench.py installs them."""


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


def fleet_init() -> Init | None:
    """The session fleet's kind of host from the environment (None: the default)."""
    raw = os.environ.get(FLEET_INIT_ENV, "").strip()
    if not raw:
        return None
    if raw not in ("systemd", "minimal"):
        raise pytest.UsageError(f"{FLEET_INIT_ENV}={raw!r}: expected systemd or minimal")
    return cast(Init, raw)


def require_root() -> None:
    """Skip the calling test or fixture unless running as root."""
    if os.geteuid() != 0:
        pytest.skip(NOT_ROOT_REASON)


class HostLease(Sequence[FleetHost]):
    """Hosts of the session fleet held by one test; indexable and iterable like a list."""

    def __init__(self, fleet: Fleet, hosts: Sequence[FleetHost]) -> None:
        self.fleet = fleet
        self.hosts: tuple[FleetHost, ...] = tuple(hosts)

    def __repr__(self) -> str:
        return f"HostLease({', '.join(self.names)})"

    def __len__(self) -> int:
        return len(self.hosts)

    def __iter__(self) -> Iterator[FleetHost]:
        return iter(self.hosts)

    def __getitem__(self, index: int) -> FleetHost:  # type: ignore[override]
        return self.hosts[index]

    @property
    def names(self) -> list[str]:
        return [host.name for host in self.hosts]

    @property
    def init(self) -> Init:
        """The kind of host leased (a fleet has one kind)."""
        return self.hosts[0].init

    async def exec(
        self, host: FleetHost | str, command: str, *, stdin: bytes | None = None
    ) -> tuple[int, str, str]:
        """``Fleet.host_exec`` on a leased host: (exit code, stdout, stderr), as root, no SSH."""
        return await self.fleet.host_exec(self._name(host), command, stdin=stdin)

    async def run(self, host: FleetHost | str, command: str) -> str:
        """Run ``command`` as root inside a leased host; its stdout, or fail loudly."""
        code, out, err = await self.exec(host, command)
        assert code == 0, f"{command!r} on {self._name(host)} exited {code}: {err}"
        return out

    def cluster_document(
        self, *, user: str | None = None, hosts: Sequence[FleetHost] | None = None
    ) -> dict[str, Any]:
        """The fleet's cluster document cut down to the leased hosts (or some of them).

        Roles are those ``kubexms sandbox up`` gives a fleet of that size; ``user`` (``root``,
        ``ops`` or ``deployer``, who also gets its sudo password) logs in everywhere.
        """
        chosen = [self._name(host) for host in (hosts if hosts is not None else self.hosts)]
        document: dict[str, Any] = yaml.safe_load(self.fleet.cluster_file.read_text())
        by_name = {entry["name"]: entry for entry in document["spec"]["hosts"]}
        entries = [copy.deepcopy(by_name[name]) for name in chosen]
        if user is not None:
            document["spec"].setdefault("global", {})["user"] = user
            for entry in entries:
                entry["user"] = user
                if user == "deployer":
                    entry["sudoPassword"] = self.fleet.password("deployer")
        document["spec"]["hosts"] = entries
        document["spec"]["roleGroups"] = role_groups(chosen)
        return document

    def cluster_file(
        self,
        directory: Path,
        *,
        user: str | None = None,
        hosts: Sequence[FleetHost] | None = None,
        edit: Callable[[dict[str, Any]], None] | None = None,
        name: str | None = None,
    ) -> Path:
        """Write :meth:`cluster_document` (changed in place by ``edit``) into ``directory``."""
        document = self.cluster_document(user=user, hosts=hosts)
        if edit is not None:
            edit(document)
        chosen = hosts if hosts is not None else self.hosts
        file_name = (
            name or f"cluster-{'-'.join(self._name(h) for h in chosen)}-{user or 'root'}.yaml"
        )
        path = directory / file_name
        path.write_text(yaml.safe_dump(document, sort_keys=False))
        return path

    @asynccontextmanager
    async def runner(self, host: FleetHost | str, user: str = "root") -> AsyncIterator[Runner]:
        """The Runner of one leased host logged in as ``user``; the connection closes on exit."""
        target = self.fleet.host(self._name(host))
        with tempfile.TemporaryDirectory(prefix="kxms-lease-") as directory:
            path = self.cluster_file(Path(directory), user=user, hosts=[target])
            async with await new_runtime(load_config(path)) as runtime:
                yield runtime.hosts[0].runner

    @staticmethod
    def _name(host: FleetHost | str) -> str:
        return host if isinstance(host, str) else host.name


class HostPool:
    """The session fleet's hosts and who holds them (a session runs one test at a time; under
    pytest-xdist each worker is a session with its own fleet and pool).

    ``packages_dir``: the session's one ``--packages-dir`` for runs that download the OS
    packages (``init os --download-packages``): the first run downloads them, later modules
    find them there (kubexms downloads only what a directory lacks).
    """

    def __init__(self, fleet: Fleet, packages_dir: Path | None = None) -> None:
        self.fleet = fleet
        self._packages_dir = packages_dir
        self._holders: dict[str, str] = {}
        self._uses: dict[str, int] = {host.name: 0 for host in fleet.hosts}
        self._prepared: dict[str, set[str]] = {host.name: set() for host in fleet.hosts}
        self._preparing: dict[str, str] = {}  # host -> what its holder prepares on it

    @property
    def init(self) -> Init:
        return self.fleet.hosts[0].init

    @property
    def packages_dir(self) -> Path:
        """The session's shared directory of downloaded OS packages (see the class)."""
        if self._packages_dir is None:
            self._packages_dir = Path(tempfile.mkdtemp(prefix="kxms-test-packages-"))
        return self._packages_dir

    def acquire(
        self,
        count: int,
        *,
        init: Init | None,
        holder: str,
        prefer: str | None = None,
        prepares: str | None = None,
    ) -> HostLease:
        """``count`` free hosts for ``holder``, least used first; skip the caller if impossible.

        With ``prefer``, hosts prepared that way come first, and the chosen hosts count as
        prepared so once released. ``prepares`` only marks them: a module that must prepare
        fresh hosts itself (its test is the preparing) still hands them on to later modules.
        """
        size = len(self.fleet.hosts)
        if init is not None and init != self.init:
            pytest.skip(
                f"needs {count} {init} fleet host(s); the fleet's hosts are {self.init} "
                f"({FLEET_INIT_ENV})"
            )
        if count > size:
            pytest.skip(f"needs {count} fleet hosts; the fleet has {size} (raise {FLEET_SIZE_ENV})")
        free = [host for host in self.fleet.hosts if host.name not in self._holders]
        if count > len(free):
            held = sorted(set(self._holders.values()))
            pytest.skip(
                f"needs {count} free fleet hosts; {len(free)} of {size} are free, the rest held "
                f"by {', '.join(held)} (raise {FLEET_SIZE_ENV})"
            )
        order = {host.name: index for index, host in enumerate(self.fleet.hosts)}
        if prefer is None:
            free.sort(key=lambda host: (self._uses[host.name], order[host.name]))
        else:
            free.sort(
                key=lambda host: (
                    prefer not in self._prepared[host.name],
                    self._uses[host.name],
                    order[host.name],
                )
            )
        chosen = sorted(free[:count], key=lambda host: order[host.name])
        mark = prepares or prefer
        for host in chosen:
            self._holders[host.name] = holder
            self._uses[host.name] += 1
            if mark is not None:
                self._preparing[host.name] = mark
        return HostLease(self.fleet, chosen)

    def release(self, lease: HostLease) -> None:
        for host in lease:
            self._holders.pop(host.name, None)
            preparation = self._preparing.pop(host.name, None)
            if preparation is not None:
                self._prepared[host.name].add(preparation)

    @contextmanager
    def lease(
        self,
        count: int,
        *,
        init: Init | None = None,
        holder: str,
        prefer: str | None = None,
        prepares: str | None = None,
    ) -> Iterator[HostLease]:
        """Hold ``count`` hosts for a block (e.g. a module-scoped fixture); released after it.
        ``prefer``, ``prepares``: see :meth:`acquire`."""
        leased = self.acquire(count, init=init, holder=holder, prefer=prefer, prepares=prepares)
        try:
            yield leased
        finally:
            self.release(leased)


class LeaseHosts(Protocol):
    """The ``lease`` fixture's type: ``lease(count, init=None)``."""

    def __call__(self, count: int, *, init: Init | None = None) -> HostLease: ...
