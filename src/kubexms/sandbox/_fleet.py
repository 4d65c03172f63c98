"""Bringing a fleet up, taking it down, and looking at it."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from kubexms._log import get_logger
from kubexms.sandbox._boot import launch_argv, write_boot_scripts
from kubexms.sandbox._cgroups import (
    create_fleet_cgroups,
    create_host_cgroups,
    discover_hierarchies,
    fleet_cgroup,
)
from kubexms.sandbox._cluster_file import cluster_document, render_cluster_file
from kubexms.sandbox._command import TOOL_ENV
from kubexms.sandbox._errors import SandboxError
from kubexms.sandbox._host_files import HostPaths, prepare_host
from kubexms.sandbox._inotify import reserve_inotify
from kubexms.sandbox._keys import generate_key, known_hosts_text, write_private_file
from kubexms.sandbox._model import (
    CLIENT_KEY_FILE,
    CLUSTER_FILE,
    KNOWN_HOSTS_FILE,
    Fleet,
    FleetStatus,
    HostStatus,
)
from kubexms.sandbox._network import (
    FleetNetwork,
    HostLink,
    allocate_network,
    create_bridge,
    create_host_links,
)
from kubexms.sandbox._preflight import (
    InitKind,
    check_count,
    check_directory,
    check_kernel,
    check_root,
    check_tools,
    choose_init,
)
from kubexms.sandbox._probe import ports_open
from kubexms.sandbox._process import is_alive, spawn_detached
from kubexms.sandbox._readiness import SSH_PORT, await_init, await_ready
from kubexms.sandbox._seed import DEPLOYER_USER, build_seed
from kubexms.sandbox._state import FleetState, HostState, ProcessRecord, read_state, write_state
from kubexms.sandbox._teardown import HOSTS_DIR, SEED_DIR, teardown

__all__ = ["DEFAULT_DIRECTORY", "fleet_down", "fleet_status", "fleet_up", "load_fleet"]

DEFAULT_DIRECTORY = Path("~/.kubexms/sandbox")
_BOOT_TIMEOUT_BASE = 60.0
_BOOT_TIMEOUT_PER_HOST = 1.5

_log = get_logger("kubexms.sandbox")


def _absolute(directory: Path) -> Path:
    return Path(os.path.abspath(directory.expanduser()))


def host_names(count: int) -> list[str]:
    """node01..nodeNN, zero-padded to the width of ``count`` (at least two digits)."""
    width = max(2, len(str(count)))
    return [f"node{index:0{width}d}" for index in range(1, count + 1)]


@contextlib.asynccontextmanager
async def _directory_lock(directory: Path) -> AsyncIterator[None]:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SandboxError(
                f"another kubexms sandbox command is working on {directory}"
            ) from None
        yield
    finally:
        os.close(fd)


def _any_alive(state: FleetState) -> bool:
    records = [r for h in state.hosts for r in (h.launcher, h.init) if r is not None]
    return any(is_alive(record.identity()) for record in records)


async def fleet_up(count: int, directory: Path, *, init: InitKind | None = None) -> Fleet:
    """Start ``count`` simulated hosts and write their cluster file, key and known_hosts.

    ``init``: "systemd" (systemd as PID 1 via systemd-nspawn), "minimal" (tini + sshd), or None
    for systemd where it works here. Needs root. If start-up fails, everything made so far is
    removed again before the error is raised.
    """
    check_root()
    check_count(count)
    kind = choose_init(init)
    check_tools(kind)
    check_kernel()
    directory = _absolute(directory)
    check_directory(directory)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    async with _directory_lock(directory):
        existing = read_state(directory)
        if existing is not None:
            if _any_alive(existing):
                raise SandboxError(
                    f"{directory} already holds a running fleet of {len(existing.hosts)} hosts; "
                    f"take it down first: kubexms sandbox down --dir {directory}"
                )
            await teardown(directory, existing)
        for name in (HOSTS_DIR, SEED_DIR):
            if (directory / name).exists():
                raise SandboxError(
                    f"{directory / name} exists but no fleet is recorded in {directory}; "
                    "remove it or choose another directory"
                )
        started = time.monotonic()
        network = await allocate_network(count)
        state = _plan(directory, network, kind, count)
        write_state(directory, state)
        try:
            await _bring_up(directory, state, network)
        except BaseException as exc:
            _log.error("sandbox.up_failed", directory=str(directory), error=str(exc) or repr(exc))
            with contextlib.suppress(Exception):
                fresh = read_state(directory)
                await teardown(directory, fresh if fresh is not None else state)
            with contextlib.suppress(OSError):
                directory.rmdir()  # only if empty
            raise
        _log.info(
            "sandbox.up",
            directory=str(directory),
            hosts=count,
            init=kind,
            subnet=state.subnet,
            seconds=round(time.monotonic() - started, 2),
        )
        return Fleet(directory, state)


def _plan(directory: Path, network: FleetNetwork, kind: InitKind, count: int) -> FleetState:
    hosts = [
        HostState(
            name=name,
            index=index,
            address=str(network.host_address(index)),
            netns=network.netns_name(name),
            veth=network.veth_name(index),
        )
        for index, name in enumerate(host_names(count), start=1)
    ]
    return FleetState(
        directory=str(directory),
        init=kind,
        subnet=str(network.subnet),
        gateway=str(network.gateway),
        bridge=network.bridge,
        prefix=network.prefix,
        passwords={
            "root": secrets.token_urlsafe(18),
            DEPLOYER_USER: secrets.token_urlsafe(18),
        },
        hosts=hosts,
    )


async def _bring_up(directory: Path, state: FleetState, network: FleetNetwork) -> None:
    hierarchies = discover_hierarchies()
    state.cgroups = [str(fleet_cgroup(h, state.prefix)) for h in hierarchies]
    write_state(directory, state)

    await create_bridge(network)
    await create_host_links(
        network,
        [
            HostLink(netns=h.netns, veth=h.veth, address=network.host_address(h.index))
            for h in state.hosts
        ],
    )

    client_key = generate_key(f"kubexms-sandbox@{state.prefix}")
    write_private_file(directory / CLIENT_KEY_FILE, client_key.private)
    (directory / f"{CLIENT_KEY_FILE}.pub").write_text(client_key.public + "\n")

    seed = directory / SEED_DIR
    seed.mkdir(mode=0o755)
    pairs = [(h.name, h.address) for h in state.hosts]
    accounts = await build_seed(seed, hosts=pairs, passwords=state.passwords)

    create_fleet_cgroups(hierarchies, state.prefix)

    def prepare(host: HostState) -> str:
        paths = HostPaths(directory / HOSTS_DIR / host.name)
        host_key = generate_key(f"root@{host.name}")
        prepare_host(
            paths,
            name=host.name,
            machine_id=uuid.uuid4().hex,
            host_key=host_key,
            client_public_key=client_key.public,
            accounts=accounts,
        )
        cgroups = create_host_cgroups(hierarchies, state.prefix, host.name)
        host.cgroups = [str(c) for c in cgroups]
        host.mounts = [str(paths.rootfs)]
        write_boot_scripts(
            paths,
            init=state.init,
            name=host.name,
            machine=f"{state.prefix}-{host.name}",
            netns=host.netns,
            seed=seed,
            cgroups=cgroups,
            hierarchies=hierarchies,
        )
        return host_key.public

    # Mostly mkdir and small writes, whose latency threads overlap well.
    public_keys = await asyncio.gather(*(asyncio.to_thread(prepare, h) for h in state.hosts))
    known_hosts = [
        ([host.name, host.address], public)
        for host, public in zip(state.hosts, public_keys, strict=True)
    ]
    (directory / KNOWN_HOSTS_FILE).write_text(known_hosts_text(known_hosts))
    document = cluster_document(
        hosts=pairs,
        private_key_path=directory / CLIENT_KEY_FILE,
        known_hosts_path=directory / KNOWN_HOSTS_FILE,
    )
    (directory / CLUSTER_FILE).write_text(render_cluster_file(document))

    if state.init == "systemd":
        await reserve_inotify(str(directory), len(state.hosts))
        state.inotify_reserved = True
    write_state(directory, state)

    for host in state.hosts:
        paths = HostPaths(directory / HOSTS_DIR / host.name)
        launcher = spawn_detached(launch_argv(paths), log_path=paths.console_log, env=TOOL_ENV)
        host.launcher = ProcessRecord.of(launcher)
    write_state(directory, state)

    timeout = _BOOT_TIMEOUT_BASE + _BOOT_TIMEOUT_PER_HOST * len(state.hosts)
    deadline = asyncio.get_running_loop().time() + timeout
    await asyncio.gather(*(await_init(directory, host, deadline) for host in state.hosts))
    write_state(directory, state)
    await asyncio.gather(*(await_ready(directory, state, host, deadline) for host in state.hosts))
    state.phase = "running"
    write_state(directory, state)


async def fleet_down(directory: Path) -> None:
    """Remove the fleet recorded in ``directory`` and everything it made. Idempotent."""
    check_root()
    directory = _absolute(directory)
    if not directory.is_dir():
        return
    async with _directory_lock(directory):
        state = read_state(directory)
        if state is None:
            return
        await teardown(directory, state)
    with contextlib.suppress(OSError):
        directory.rmdir()  # only if empty: the user's own files stay, and so does the directory


def load_fleet(directory: Path) -> Fleet:
    """The fleet recorded in ``directory``."""
    directory = _absolute(directory)
    state = read_state(directory)
    if state is None:
        raise SandboxError(
            f"no fleet in {directory} (start one with: kubexms sandbox up N --dir {directory})"
        )
    return Fleet(directory, state)


def fleet_status(directory: Path) -> FleetStatus:
    """Per host: is its PID 1 alive, does its sshd accept connections."""
    fleet = load_fleet(directory)
    state = read_state(fleet.directory)
    assert state is not None
    alive = [h.init is not None and is_alive(h.init.identity()) for h in state.hosts]
    probe = [h.address for h, up in zip(state.hosts, alive, strict=True) if up]
    open_ports = iter(ports_open(probe, SSH_PORT))
    hosts = [
        HostStatus(
            name=h.name,
            address=h.address,
            pid=h.init.pid if h.init is not None else None,
            alive=up,
            ssh_open=next(open_ports) if up else False,
        )
        for h, up in zip(state.hosts, alive, strict=True)
    ]
    return FleetStatus(directory=fleet.directory, init=state.init, subnet=state.subnet, hosts=hosts)
