"""The public view of a fleet: its hosts, files, passwords, status, and a way into each host."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from kubexms.sandbox._errors import SandboxError
from kubexms.sandbox._exec import exec_in_host
from kubexms.sandbox._state import FleetState

__all__ = [
    "CLIENT_KEY_FILE",
    "CLUSTER_FILE",
    "KNOWN_HOSTS_FILE",
    "Fleet",
    "FleetHost",
    "FleetStatus",
    "HostStatus",
]

CLUSTER_FILE = "cluster.yaml"
CLIENT_KEY_FILE = "id_ed25519"
KNOWN_HOSTS_FILE = "known_hosts"


@dataclass(frozen=True)
class FleetHost:
    """One simulated host.

    ``pid`` is the host's PID 1 (systemd, or tini in a minimal host) as the machine sees it.
    """

    name: str
    address: str
    pid: int
    init: Literal["systemd", "minimal"]


@dataclass(frozen=True)
class HostStatus:
    """How one host is doing: is its init running, does its sshd accept connections."""

    name: str
    address: str
    pid: int | None
    alive: bool
    ssh_open: bool


@dataclass(frozen=True)
class FleetStatus:
    """How a whole fleet is doing."""

    directory: Path
    init: Literal["systemd", "minimal"]
    subnet: str
    hosts: list[HostStatus]

    @property
    def healthy(self) -> bool:
        """Every host is alive and its sshd answers."""
        return all(host.alive and host.ssh_open for host in self.hosts)


class Fleet:
    """A running simulated fleet, as recorded in its directory."""

    def __init__(self, directory: Path, state: FleetState) -> None:
        self.directory = directory
        self._state = state
        self.hosts: list[FleetHost] = [
            FleetHost(
                name=host.name,
                address=host.address,
                pid=host.init.pid if host.init is not None else -1,
                init=state.init,
            )
            for host in state.hosts
        ]

    def __repr__(self) -> str:
        return f"Fleet({str(self.directory)!r}, {len(self.hosts)} {self._state.init} hosts)"

    @property
    def subnet(self) -> str:
        """The fleet's block of 10.213.0.0/16."""
        return self._state.subnet

    @property
    def cluster_file(self) -> Path:
        """The generated cluster.yaml for this fleet."""
        return self.directory / CLUSTER_FILE

    @property
    def private_key_path(self) -> Path:
        """The client's ed25519 private key, accepted by root, ops and deployer on every host."""
        return self.directory / CLIENT_KEY_FILE

    @property
    def known_hosts_path(self) -> Path:
        """known_hosts with every host's ed25519 key, by name and by address."""
        return self.directory / KNOWN_HOSTS_FILE

    def host(self, name: str) -> FleetHost:
        """The host called ``name``."""
        for host in self.hosts:
            if host.name == name:
                return host
        raise SandboxError(f"the fleet in {self.directory} has no host {name!r}")

    def password(self, user: str) -> str:
        """The login password of ``root`` or ``deployer`` (random per fleet)."""
        try:
            return self._state.passwords[user]
        except KeyError:
            users = ", ".join(sorted(self._state.passwords))
            raise SandboxError(f"no password for {user!r}; users with passwords: {users}") from None

    async def host_exec(
        self, name: str, command: str, *, stdin: bytes | None = None
    ) -> tuple[int, str, str]:
        """Run a shell command as root inside host ``name`` (via nsenter, not SSH).

        Returns (exit code, stdout, stderr). Secrets belong in ``stdin``, not in ``command``.
        """
        for host in self._state.hosts:
            if host.name == name:
                if host.init is None:
                    raise SandboxError(f"host {name} never started")
                return await exec_in_host(name, host.init.identity(), command, stdin=stdin)
        raise SandboxError(f"the fleet in {self.directory} has no host {name!r}")
