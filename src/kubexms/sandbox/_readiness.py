"""Waiting for started hosts: their PID 1 appears, their sshd listens, their boot finishes."""

from __future__ import annotations

import asyncio
from pathlib import Path

from kubexms._log import get_logger
from kubexms.sandbox._errors import SandboxError
from kubexms.sandbox._exec import exec_in_host
from kubexms.sandbox._host_files import HostPaths
from kubexms.sandbox._probe import wait_for_port
from kubexms.sandbox._process import child_pids, identify, is_alive, pid_namespace
from kubexms.sandbox._state import FleetState, HostState, ProcessRecord
from kubexms.sandbox._teardown import HOSTS_DIR

__all__ = ["SSH_PORT", "await_init", "await_ready"]

SSH_PORT = 22

_log = get_logger("kubexms.sandbox")


def _console_tail(directory: Path, host: HostState, lines: int = 15) -> str:
    log = HostPaths(directory / HOSTS_DIR / host.name).console_log
    try:
        text = log.read_text(errors="replace").strip().splitlines()
    except FileNotFoundError:
        return "(no output)"
    return "\n".join(text[-lines:]) or "(no output)"


async def await_init(directory: Path, host: HostState, deadline: float) -> None:
    """Wait for the host's PID 1 to appear: a child of the launcher in a new PID namespace."""
    assert host.launcher is not None
    launcher = host.launcher.identity()
    loop = asyncio.get_running_loop()
    own_namespace = pid_namespace(launcher.pid)
    while True:
        if not is_alive(launcher):
            raise SandboxError(
                f"host {host.name} failed to start; its console said:\n"
                f"{_console_tail(directory, host)}"
            )
        for child in child_pids(launcher.pid):
            namespace = pid_namespace(child)
            identity = identify(child)
            if namespace is not None and namespace != own_namespace and identity is not None:
                host.init = ProcessRecord.of(identity)
                return
        if loop.time() >= deadline:
            raise SandboxError(f"host {host.name} did not start its init in time")
        await asyncio.sleep(0.05)


async def await_ready(directory: Path, state: FleetState, host: HostState, deadline: float) -> None:
    """Wait until the host's sshd accepts connections and (systemd) its boot has finished."""
    assert host.init is not None
    loop = asyncio.get_running_loop()
    init = host.init.identity()
    if not await wait_for_port(host.address, SSH_PORT, timeout=max(1.0, deadline - loop.time())):
        raise SandboxError(
            f"host {host.name} ({host.address}) did not open port {SSH_PORT} in time; "
            f"its console said:\n{_console_tail(directory, host)}"
        )
    if state.init != "systemd":
        return
    remaining = max(1.0, deadline - loop.time())
    try:
        code, out, err = await asyncio.wait_for(
            exec_in_host(host.name, init, "systemctl is-system-running --wait"), remaining
        )
    except TimeoutError:
        raise SandboxError(f"host {host.name} did not finish booting in time") from None
    status = out.strip()
    if status == "degraded":
        _, failed, _ = await exec_in_host(
            host.name, init, "systemctl list-units --state=failed --no-legend --plain"
        )
        _log.warning(
            "sandbox.host_degraded",
            host=host.name,
            failed_units=[line.split()[0] for line in failed.splitlines() if line.strip()],
        )
    elif status != "running":
        raise SandboxError(
            f"host {host.name} did not boot: systemctl is-system-running says "
            f"{status or err.strip()!r} (exit {code})"
        )
