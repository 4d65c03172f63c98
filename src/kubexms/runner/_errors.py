"""Errors of Runner operations: each names the host and what a user needs to act."""

from __future__ import annotations

from kubexms._errors import KubexmsError


class RunnerError(KubexmsError):
    """An operation could not bring the host to the requested state."""

    def __init__(self, host: str, message: str) -> None:
        super().__init__(f"{host}: {message}")
        self.host = host
        self.reason = message


class UnsupportedHostError(RunnerError):
    """The host lacks what the operation needs (package manager, init system, a tool)."""


class KernelModuleMissingError(RunnerError):
    """Kernel modules that are neither built in nor loadable on the host."""

    def __init__(self, host: str, modules: list[str], detail: str = "") -> None:
        message = f"kernel module(s) not available: {', '.join(modules)}"
        super().__init__(host, message + (f"\n  {detail}" if detail else ""))
        self.modules = modules


class SysctlError(RunnerError):
    """A sysctl key does not exist on the host, or the kernel refused its value."""

    def __init__(self, host: str, key: str, message: str) -> None:
        super().__init__(host, f"sysctl {key}: {message}")
        self.key = key


class ServiceNotActiveError(RunnerError):
    """A systemd unit did not become active in time; ``journal`` holds its last log lines."""

    def __init__(self, host: str, unit: str, state: str, timeout: float, journal: str) -> None:
        message = f"service {unit} is {state or 'unknown'}, not active, after {timeout:g}s"
        lines = journal.strip()
        if lines:
            message += "\n  last journal lines:\n    " + "\n    ".join(lines.splitlines())
        super().__init__(host, message)
        self.unit = unit
        self.state = state
        self.journal = journal


class PortWaitTimeoutError(RunnerError):
    """Nothing listened on a TCP port of the host within the timeout."""

    def __init__(self, host: str, port: int, timeout: float) -> None:
        super().__init__(host, f"nothing listens on TCP port {port} after {timeout:g}s")
        self.port = port


class TemplateError(RunnerError):
    """A template could not be rendered (syntax error or an undefined variable)."""


class PackageManagerLockedError(RunnerError):
    """The package manager stayed locked by another process past the wait (a previous
    attempt's apt or dpkg still running, an unattended upgrade). Trying again later can work."""

    retryable = True
    label = "package manager locked"

    def __init__(self, host: str, waited: float, detail: str) -> None:
        super().__init__(
            host,
            f"the package manager stayed locked by another process for {waited:g}s ({detail}); "
            "another apt/dpkg is still at work there: try again when it has finished",
        )
        self.waited = waited


class PackageCommandError(RunnerError):
    """A package manager command failed: the command in one line and the end of its stderr."""

    label = "package command failed"

    def __init__(self, host: str, command: str, exit_code: int, stderr: str) -> None:
        lines = [line.rstrip() for line in stderr.splitlines() if line.strip()][-6:]
        message = f"{command} exited {exit_code}"
        if lines:
            message += ":\n    " + "\n    ".join(lines)
        super().__init__(host, message)
        self.command = command
        self.exit_code = exit_code
        self.stderr = stderr


class NoSpaceError(RunnerError):
    """A directory on the host has less free space than what is about to be written there."""

    label = "no space left"

    def __init__(self, host: str, path: str, free: int, needed: int) -> None:
        super().__init__(
            host, f"no space left on {path} ({_size(free)} free, {_size(needed)} needed)"
        )
        self.path = path
        self.free = free
        self.needed = needed


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
