"""ClusterRuntime and new_runtime: the ignition switch that connects to every host."""

from __future__ import annotations

import asyncio
import getpass
import secrets
import shutil
import tempfile
from collections.abc import Callable, Collection, Iterator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Self

from kubexms._log import get_logger
from kubexms.connector import Connector, ConnectorError, ConnectTimeoutError, LocalConnector
from kubexms.runner import Runner
from kubexms.runtime._connectors import ConnectorBuilder
from kubexms.runtime._context import Context, DataStore
from kubexms.runtime._errors import InitializationError
from kubexms.runtime._host import Host

if TYPE_CHECKING:
    import structlog

    from kubexms.config import Cluster, ResolvedHost
    from kubexms.runtime._inventory import HostInventory

ConnectorFactory = Callable[["ResolvedHost"], Connector]


class HostsRuntime:
    """Connected hosts in config order, by name, with the hosts that could not be reached.

    What commands that only reach hosts (``exec``, ``facts``) get from `reach_hosts`; a run of
    steps gets a `ClusterRuntime`, which also holds the cluster file. It has no execution
    logic. Use it as an async context manager: every connection is closed on exit.
    """

    def __init__(
        self,
        hosts: Sequence[Host],
        logger: structlog.stdlib.BoundLogger,
        *,
        unreachable: Sequence[ConnectorError] = (),
    ) -> None:
        self.hosts: tuple[Host, ...] = tuple(hosts)
        # Hosts of the config that failed to connect (only with allow_unreachable), by name.
        self.unreachable: dict[str, ConnectorError] = {error.host: error for error in unreachable}
        self.inventory: dict[str, Host] = {host.name: host for host in self.hosts}
        self.logger = logger
        self.cluster_data = DataStore("cluster data")
        self._host_data = {host.name: DataStore(f"shared data of {host.name}") for host in hosts}
        self._control: Host | None = None
        self._closed = False

    def __iter__(self) -> Iterator[Host]:
        return iter(self.hosts)

    def __len__(self) -> int:
        return len(self.hosts)

    def host(self, name: str) -> Host:
        """The host called ``name``; KeyError naming it otherwise."""
        try:
            return self.inventory[name]
        except KeyError:
            raise KeyError(f"no host named {name!r} in this cluster") from None

    def hosts_with_role(self, role: str) -> list[Host]:
        """Hosts having ``role``, in config order (so "the first master" never moves)."""
        return [host for host in self.hosts if role in host.roles]

    def first_with_role(self, role: str) -> Host:
        """The first host (in config order) having ``role``."""
        for host in self.hosts:
            if role in host.roles:
                return host
        raise LookupError(f"no host has the role {role!r}")

    def control_host(self, name: str) -> Host:
        """This machine as a host named ``name``, for steps that work locally (downloads,
        certificates): a local connector run as the invoking user, whose Runner never
        elevates. Made on first use; closed with the runtime like every other connection."""
        if self._control is None:
            runner = Runner(LocalConnector(name), sudo=False)
            # Its staging directory is its own, in this machine's temporary directory, and
            # goes with the runtime: a run's directory under /var/tmp/kubexms is removed
            # by the run's lock release on a target host, which this machine never has.
            runner.temp_dir = f"{tempfile.gettempdir()}/kubexms-control-{secrets.token_hex(6)}"
            self._control = Host(
                name=name,
                address="127.0.0.1",
                internal_address="127.0.0.1",
                port=0,
                user=getpass.getuser(),
                roles=frozenset(),
                runner=runner,
            )
        return self._control

    async def close(self) -> None:
        """Close every host's connection. Safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        connectors = [host.runner.connector for host in self.hosts]
        if self._control is not None:
            connectors.append(self._control.runner.connector)
        await _close_all(connectors)
        if self._control is not None:
            await asyncio.to_thread(shutil.rmtree, self._control.runner.temp_dir, True)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class ClusterRuntime(HostsRuntime):
    """The whole run's read-only state: config, hosts in config order, inventory, logger."""

    def __init__(
        self,
        config: Cluster,
        hosts: Sequence[Host],
        logger: structlog.stdlib.BoundLogger,
        *,
        unreachable: Sequence[ConnectorError] = (),
    ) -> None:
        super().__init__(hosts, logger, unreachable=unreachable)
        self.config = config

    def new_context(
        self, host: Host, *, step: str | None = None, deadline: float | None = None
    ) -> Context:
        """A Context for one step on one host; ``shared_data`` is that host's own store."""
        logger = self.logger.bind(host=host.name)
        if step is not None:
            logger = logger.bind(step=step)
        return Context(
            host=host,
            cluster=self,
            logger=logger,
            shared_data=self._host_data[host.name],
            cluster_data=self.cluster_data,
            deadline=deadline,
        )


async def _close_all(connectors: Iterator[Connector] | Sequence[Connector]) -> None:
    # Closing is best effort: one host failing to close must not keep the others open.
    await asyncio.gather(*(connector.close() for connector in connectors), return_exceptions=True)


def _host_from(spec: ResolvedHost, runner: Runner) -> Host:
    return Host(
        name=spec.name,
        address=spec.address,
        internal_address=spec.internal_address,
        port=spec.port,
        user=spec.user,
        roles=frozenset(spec.roles),
        runner=runner,
        labels=dict(spec.labels),
        arch=spec.arch,
    )


async def new_runtime(
    config: Cluster,
    logger: structlog.stdlib.BoundLogger | None = None,
    *,
    connector_factory: ConnectorFactory | None = None,
    allow_unreachable: bool = False,
    only: Collection[str] | None = None,
) -> ClusterRuntime:
    """Connect to every host concurrently and return the ClusterRuntime.

    All hosts connect under one overall timeout (``spec.global.connectionTimeout``) with at
    most ``spec.global.connectConcurrency`` handshakes at once. Failures are gathered: one
    InitializationError names every host that failed, and connections already opened are
    closed before it is raised. Hosts keep config order whatever order they connect in.

    With ``allow_unreachable`` (a run that continues on healthy hosts), hosts that fail with a
    ConnectorError are left out of ``hosts`` and listed in ``unreachable`` instead; it still
    raises when no host at all could be reached. With ``only``, just the hosts of those names
    are connected to (and make up the runtime); the others are not touched.
    """
    log = logger if logger is not None else get_logger("kubexms.runtime")
    hosts, errors = await _connect(
        config,
        log,
        connector_factory=connector_factory,
        allow_unreachable=allow_unreachable,
        only=only,
    )
    return ClusterRuntime(config, hosts, log, unreachable=errors)


async def _connect(
    inventory: HostInventory,
    log: structlog.stdlib.BoundLogger,
    *,
    connector_factory: ConnectorFactory | None,
    allow_unreachable: bool,
    only: Collection[str] | None,
) -> tuple[list[Host], list[ConnectorError]]:
    """The connected hosts of ``inventory`` (those in ``only``), and the errors of the rest;
    see `new_runtime`."""
    settings = inventory.spec.global_
    specs = [spec for spec in inventory.resolved_hosts() if only is None or spec.name in only]
    factory = connector_factory or ConnectorBuilder(inventory).build
    connectors = [factory(spec) for spec in specs]
    handshakes = asyncio.Semaphore(settings.connect_concurrency)
    timeout = float(settings.connection_timeout)

    async def connect(connector: Connector) -> None:
        async with handshakes:
            await connector.connect()

    tasks = [asyncio.ensure_future(connect(connector)) for connector in connectors]
    pending: set[asyncio.Future[None]] = set()
    if tasks:
        _, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)

    errors: list[ConnectorError] = []
    unexpected: BaseException | None = None
    for spec, task in zip(specs, tasks, strict=True):
        if task in pending:
            errors.append(
                ConnectTimeoutError(
                    spec.name,
                    f"connecting to {spec.address}:{spec.port} timed out: no connection "
                    f"within the connection timeout of {timeout:g}s",
                )
            )
            continue
        error = task.exception()
        if isinstance(error, ConnectorError):
            errors.append(error)
        elif error is not None and unexpected is None:
            unexpected = error

    failed = {error.host for error in errors}
    tolerated = allow_unreachable and unexpected is None and len(failed) < len(specs)
    if (errors and not tolerated) or unexpected is not None:
        await _close_all(connectors)
        if unexpected is not None:
            raise unexpected
        log.warning("runtime.initialization_failed", failed=[error.host for error in errors])
        raise InitializationError(errors)
    if errors:
        await _close_all(
            [c for spec, c in zip(specs, connectors, strict=True) if spec.name in failed]
        )
        log.warning("runtime.hosts_unreachable", failed=sorted(failed))

    hosts = [
        _host_from(spec, Runner(connector))
        for spec, connector in zip(specs, connectors, strict=True)
        if spec.name not in failed
    ]
    log.debug("runtime.ready", hosts=len(hosts))
    return hosts, errors


async def reach_hosts(
    inventory: HostInventory,
    names: Collection[str],
    logger: structlog.stdlib.BoundLogger | None = None,
    *,
    connector_factory: ConnectorFactory | None = None,
) -> HostsRuntime:
    """A runtime of the named hosts only, for commands that report per host (exec, facts,
    certificates): each host that cannot be reached is in ``unreachable``, even when that is
    every one of them (then the runtime has no host), instead of failing the whole command."""
    log = logger if logger is not None else get_logger("kubexms.runtime")
    try:
        hosts, errors = await _connect(
            inventory,
            log,
            connector_factory=connector_factory,
            allow_unreachable=True,
            only=names,
        )
    except InitializationError as error:
        return HostsRuntime([], log, unreachable=error.errors)
    return HostsRuntime(hosts, log, unreachable=errors)
