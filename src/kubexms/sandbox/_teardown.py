"""Taking a fleet down completely, from whatever state its record says it reached."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import stat
from pathlib import Path

from kubexms._log import get_logger
from kubexms.sandbox._cgroups import remove_cgroup_trees
from kubexms.sandbox._command import run_tool
from kubexms.sandbox._errors import SandboxError
from kubexms.sandbox._inotify import release_inotify
from kubexms.sandbox._model import CLIENT_KEY_FILE, CLUSTER_FILE, KNOWN_HOSTS_FILE
from kubexms.sandbox._network import remove_network
from kubexms.sandbox._process import (
    ProcessIdentity,
    child_pids,
    identify,
    is_alive,
    pid_namespace,
    send_signal,
    wait_gone,
)
from kubexms.sandbox._state import STATE_FILE, FleetState, write_state

__all__ = ["HOSTS_DIR", "SEED_DIR", "teardown"]

HOSTS_DIR = "hosts"
SEED_DIR = "seed"
# A systemd host halts in about a second; many at once on two cores take longer.
_HALT_GRACE_BASE = 10.0
_HALT_GRACE_PER_HOST = 0.3
_KILL_WAIT = 10.0

_log = get_logger("kubexms.sandbox")


def _find_unrecorded_inits(state: FleetState) -> list[ProcessIdentity]:
    """PID 1 of hosts whose start was interrupted before their init was recorded."""
    found: list[ProcessIdentity] = []
    for host in state.hosts:
        if host.init is not None or host.launcher is None:
            continue
        launcher = host.launcher.identity()
        if not is_alive(launcher):
            continue
        namespace = pid_namespace(launcher.pid)
        for child in child_pids(launcher.pid):
            identity = identify(child)
            if identity is not None and pid_namespace(child) not in (None, namespace):
                found.append(identity)
    return found


def _pids_in_cgroups(state: FleetState) -> set[int]:
    pids: set[int] = set()
    for host in state.hosts:
        for top in host.cgroups:
            for current, _, files in os.walk(top):
                if "cgroup.procs" in files:
                    with contextlib.suppress(OSError):
                        text = Path(current, "cgroup.procs").read_text()
                        pids.update(int(pid) for pid in text.split())
    return pids


async def _sweep_cgroups(state: FleetState) -> list[str]:
    """Kill what is left in the hosts' cgroups: only ever descendants of our launchers."""
    deadline = asyncio.get_running_loop().time() + _KILL_WAIT
    while True:
        pids = _pids_in_cgroups(state)
        if not pids:
            return []
        if asyncio.get_running_loop().time() >= deadline:
            return [f"process {pid} (in the fleet's cgroups)" for pid in sorted(pids)]
        for pid in pids:
            identity = identify(pid)
            if identity is not None:
                send_signal(identity, signal.SIGKILL)
        await asyncio.sleep(0.1)


async def _stop_processes(state: FleetState) -> list[str]:
    launchers = [h.launcher.identity() for h in state.hosts if h.launcher is not None]
    inits = [h.init.identity() for h in state.hosts if h.init is not None]
    inits += _find_unrecorded_inits(state)
    if state.init == "systemd" and state.phase == "running":
        # nspawn turns SIGTERM into an orderly halt of the host's systemd.
        for identity in launchers:
            send_signal(identity, signal.SIGTERM)
        grace = _HALT_GRACE_BASE + _HALT_GRACE_PER_HOST * len(launchers)
        stubborn = await wait_gone(launchers, grace)
        if stubborn:
            _log.warning("sandbox.halt_timeout", hosts=len(stubborn), grace_seconds=grace)
    else:
        # A host that never finished starting has nothing to halt in order.
        stubborn = launchers
    # unshare ignores SIGTERM while it waits; SIGKILL makes --kill-child take the host's PID 1
    # (and with it the whole PID namespace) down. A killed nspawn leaves its host's PID 1
    # behind, so every host PID 1 still there is killed directly, which ends its namespace.
    for identity in stubborn:
        send_signal(identity, signal.SIGKILL)
    await wait_gone(stubborn, _KILL_WAIT)
    for identity in inits:
        send_signal(identity, signal.SIGKILL)
    remaining: list[ProcessIdentity] = await wait_gone([*launchers, *inits], _KILL_WAIT)
    left = [f"process {identity.pid}" for identity in remaining]
    return left + await _sweep_cgroups(state)


def _mounts_under(directory: Path) -> list[Path]:
    prefix = str(directory).rstrip("/") + "/"
    mounts: list[Path] = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        mountpoint = line.split()[4].replace("\\040", " ")
        if mountpoint.startswith(prefix):
            mounts.append(Path(mountpoint))
    return sorted(mounts, key=lambda p: len(p.parts), reverse=True)


async def _unmount_leftovers(directory: Path) -> list[str]:
    # Host mounts live in the hosts' own mount namespaces and vanish with them; anything under
    # the fleet directory in the machine's table would be a leftover from something else.
    for mountpoint in _mounts_under(directory):
        await run_tool(["umount", "--lazy", str(mountpoint)], check=False)
    return [f"mount {m}" for m in _mounts_under(directory)]


def _remove_tree(top: Path) -> None:
    """Delete a directory tree without ever crossing into another filesystem."""
    if not top.exists() and not top.is_symlink():
        return
    top_device = top.lstat().st_dev
    for current, dirs, files in os.walk(top, topdown=False):
        for name in files:
            os.unlink(os.path.join(current, name))
        for name in dirs:
            path = os.path.join(current, name)
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                os.unlink(path)
                continue
            if info.st_dev != top_device or os.path.ismount(path):
                raise SandboxError(f"{path} is a mount point; not removing anything below it")
            os.rmdir(path)
    os.rmdir(top)


def _remove_files(directory: Path) -> None:
    for name in (HOSTS_DIR, SEED_DIR):
        _remove_tree(directory / name)
    for name in (CLUSTER_FILE, CLIENT_KEY_FILE, f"{CLIENT_KEY_FILE}.pub", KNOWN_HOSTS_FILE):
        (directory / name).unlink(missing_ok=True)


async def teardown(directory: Path, state: FleetState) -> None:
    """Remove everything the recorded fleet made; raise naming anything that would not go."""
    _log.info("sandbox.down", directory=str(directory), hosts=len(state.hosts))
    left = await _stop_processes(state)
    if left:
        # Without the processes gone, namespaces and cgroups cannot go either: stop here and
        # keep the record, so another `down` can finish the job.
        raise SandboxError(
            f"could not stop the fleet in {directory}: {', '.join(left)} still running"
        )
    left += await remove_network(
        subnet=state.subnet,
        bridge=state.bridge,
        netns_names=[h.netns for h in state.hosts],
        veth_names=[h.veth for h in state.hosts],
    )
    left += await remove_cgroup_trees([Path(p) for p in state.cgroups])
    left += await _unmount_leftovers(directory)
    if state.inotify_reserved:
        await release_inotify(str(directory))
        state.inotify_reserved = False
        write_state(directory, state)
    if left:
        raise SandboxError(
            f"the fleet in {directory} is stopped, but these remain: {', '.join(left)}; "
            "run `kubexms sandbox down` again once they are free"
        )
    await asyncio.to_thread(_remove_files, directory)
    (directory / STATE_FILE).unlink(missing_ok=True)
