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
