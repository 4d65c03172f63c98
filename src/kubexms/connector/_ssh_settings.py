"""SSH endpoints, and the settings every connection of a run shares.

Built once per run and shared by every SSHConnector: known_hosts is parsed once, each private
key is loaded once, and hosts behind the same bastion share one bastion connection.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

import asyncssh

from kubexms.connector._bastion import BastionPool
from kubexms.connector._errors import (
    AuthenticationError,
    ConnectorError,
    HostKeyChangedError,
    HostKeyError,
)
from kubexms.connector._known_hosts import HostKeyConflictError, KnownHostsStore, host_pattern
from kubexms.connector._ssh_errors import CONNECTION_FAILURES, connection_error

HostKeyPolicy = Literal["strict", "accept-new", "off"]


@dataclass(frozen=True, slots=True)
class SSHEndpoint:
    """Where and as whom to log in. Without password or key, an ssh-agent (``SSH_AUTH_SOCK``)
    and the user's default keys (``~/.ssh/id_*``) are tried."""

    address: str
    port: int = 22
    user: str = "root"
    password: str | None = field(default=None, repr=False)
    private_key_path: Path | None = None
    private_key: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.address or any(c.isspace() for c in self.address):
            raise ValueError(f"SSH address {self.address!r} is empty or contains spaces")
        if not 1 <= self.port <= 65535:
            raise ValueError(f"SSH port {self.port} is outside 1..65535")
        if not self.user:
            raise ValueError("SSH user must not be empty")

    @property
    def label(self) -> str:
        """``address:port`` as people write it (``[v6]:port`` for IPv6)."""
        try:
            is_v6 = ipaddress.ip_address(self.address).version == 6
        except ValueError:
            is_v6 = False
        return f"[{self.address}]:{self.port}" if is_v6 else f"{self.address}:{self.port}"


class _Client(asyncssh.SSHClient):
    """Remembers why its connection closed (asyncssh tells only the connection's owner)."""

    lost: Exception | None = None

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = exc


class CloseWatch:
    """Why a connection closed under us (a keepalive timeout, a reset), when asyncssh said.

    Taken right after connecting: asyncssh forgets a connection's owner once it closes.
    """

    def __init__(self, conn: asyncssh.SSHClientConnection) -> None:
        owner = conn.get_owner() if hasattr(conn, "get_owner") else None
        self._client = owner if isinstance(owner, _Client) else None

    @property
    def reason(self) -> Exception | None:
        return self._client.lost if self._client is not None else None


class _HostKeyCheck(_Client):
    """Decides on host keys known_hosts does not vouch for, remembering why."""

    def __init__(self, store: KnownHostsStore, policy: HostKeyPolicy) -> None:
        self._store = store
        self._policy = policy
        self.problem: Literal["unknown", "changed"] | None = None
        self.new_key: asyncssh.SSHKey | None = None

    def validate_host_public_key(
        self, host: str, addr: str, port: int, key: asyncssh.SSHKey
    ) -> bool:
        # asyncssh calls this only for a key that matches no known_hosts entry.
        if self._store.keys_for(host, port):
            self.problem = "changed"
            return False
        if self._policy == "accept-new":
            self.new_key = key
            return True
        self.problem = "unknown"
        return False


class SSHClientSettings:
    """Options shared by all SSH connections of a run, plus what is expensive to redo.

    ``host_key_policy``: ``strict`` (default) verifies against ``known_hosts_path`` (default
    ``~/.ssh/known_hosts``) and refuses unknown or changed keys; ``accept-new`` trusts a host
    seen for the first time and records its key, but still refuses a changed one; ``off``
    checks nothing. ``connect_timeout`` bounds TCP connect, handshake and login together.
    """

    def __init__(
        self,
        *,
        host_key_policy: HostKeyPolicy = "strict",
        known_hosts_path: Path | None = None,
        connect_timeout: float = 30.0,
        keepalive_interval: float = 15.0,
        keepalive_count_max: int = 3,
        max_sessions_per_host: int = 8,
    ) -> None:
        if host_key_policy not in get_args(HostKeyPolicy):
            raise ValueError(
                f"host key policy {host_key_policy!r} is not one of strict, accept-new, off"
            )
        if connect_timeout <= 0 or keepalive_interval < 0 or max_sessions_per_host < 1:
            raise ValueError("connect_timeout and max_sessions_per_host must be positive")
        self.host_key_policy: HostKeyPolicy = host_key_policy
        self.known_hosts_path = (known_hosts_path or Path("~", ".ssh", "known_hosts")).expanduser()
        self.connect_timeout = connect_timeout
        self.keepalive_interval = keepalive_interval
        self.keepalive_count_max = keepalive_count_max
        self.max_sessions_per_host = max_sessions_per_host
        self._store = KnownHostsStore(self.known_hosts_path)
        self._keys: dict[str, asyncssh.SSHKey] = {}
        self.bastions = BastionPool(self.connect)

    def __repr__(self) -> str:
        return (
            f"SSHClientSettings(host_key_policy={self.host_key_policy!r}, "
            f"known_hosts_path={str(self.known_hosts_path)!r})"
        )

    def _private_key(self, host: str, endpoint: SSHEndpoint) -> list[asyncssh.SSHKey]:
        keys: list[asyncssh.SSHKey] = []
        if endpoint.private_key_path is not None:
            path = endpoint.private_key_path.expanduser().absolute()
            cache_key = f"path:{path}"
            if cache_key not in self._keys:
                try:
                    self._keys[cache_key] = asyncssh.read_private_key(path)
                except (OSError, asyncssh.KeyImportError) as exc:
                    raise AuthenticationError(
                        host, f"the private key {path} cannot be used: {exc}."
                    ) from None
            keys.append(self._keys[cache_key])
        if endpoint.private_key is not None:
            digest = hashlib.sha256(endpoint.private_key.encode()).hexdigest()
            cache_key = f"inline:{digest}"
            if cache_key not in self._keys:
                try:
                    self._keys[cache_key] = asyncssh.import_private_key(endpoint.private_key)
                except (asyncssh.KeyImportError, ValueError) as exc:
                    raise AuthenticationError(
                        host, f"the inline private key cannot be used: {exc}."
                    ) from None
            keys.append(self._keys[cache_key])
        return keys

    def _auth_options(self, host: str, endpoint: SSHEndpoint) -> dict[str, object]:
        keys = self._private_key(host, endpoint)
        options: dict[str, object] = {"password": endpoint.password}
        if keys:
            options.update(client_keys=keys, agent_path=None)
        elif endpoint.password is not None:
            options.update(client_keys=None)
        else:
            # asyncssh's defaults: the agent at SSH_AUTH_SOCK, then ~/.ssh/id_* keys.
            options.update(agent_path=os.environ.get("SSH_AUTH_SOCK") or None)
        return options

    async def connect(
        self,
        endpoint: SSHEndpoint,
        *,
        host: str,
        tunnel: asyncssh.SSHClientConnection | None = None,
        timeout: float | None = None,
    ) -> asyncssh.SSHClientConnection:
        """Open one authenticated connection to ``endpoint``; errors name ``host``.

        ``timeout`` overrides ``connect_timeout`` (a short attempt at a host just lost).

        Raises HostConnectionError, AuthenticationError or HostKeyError.
        """
        target = endpoint.label
        connect_timeout = timeout if timeout is not None else self.connect_timeout
        options = self._auth_options(host, endpoint)
        checker: _HostKeyCheck | None = None
        known_hosts: asyncssh.SSHKnownHosts | None = None
        if self.host_key_policy != "off":
            known_hosts = await self._store.known_hosts()
            checker = _HostKeyCheck(self._store, self.host_key_policy)
        check = checker

        def client() -> asyncssh.SSHClient:
            return check if check is not None else _Client()

        try:
            conn = await asyncssh.connect(
                endpoint.address,
                endpoint.port,
                tunnel=tunnel if tunnel is not None else (),
                config=[],
                username=endpoint.user,
                known_hosts=known_hosts,
                client_factory=client,
                connect_timeout=connect_timeout,
                keepalive_interval=self.keepalive_interval,
                keepalive_count_max=self.keepalive_count_max,
                gss_auth=False,
                gss_kex=False,
                host_based_auth=False,
                x509_trusted_certs=None,
                agent_forwarding=False,
                **options,
            )
        except asyncssh.HostKeyNotVerifiable as exc:
            raise self._host_key_error(host, endpoint, checker, exc) from None
        except asyncssh.PermissionDenied as exc:
            hint = ""
            if endpoint.password is None and not options.get("client_keys"):
                hint = " No password or private key is configured; the ssh-agent and default keys"
                hint += " did not work."
            raise AuthenticationError(
                host, f"{target} rejected the login of user {endpoint.user!r} ({exc.reason}).{hint}"
            ) from None
        except CONNECTION_FAILURES as exc:
            known = self._store.keys_for(endpoint.address, endpoint.port) if known_hosts else []
            if known and isinstance(exc, (asyncssh.DisconnectError, ConnectionResetError)):
                # With keys on record asyncssh offers only their types; a host that has none of
                # them fails the key exchange (or sshd hangs up): its key changed type.
                changed = await self._key_type_change(host, endpoint, known, tunnel)
                if changed is not None:
                    raise changed from None
            raise connection_error(
                host, target, exc, timeout=connect_timeout, tunnel=tunnel is not None
            ) from None
        if checker is not None and checker.new_key is not None:
            await self._record(host, endpoint, checker.new_key, conn)
        return conn

    async def _record(
        self,
        host: str,
        endpoint: SSHEndpoint,
        key: asyncssh.SSHKey,
        conn: asyncssh.SSHClientConnection,
    ) -> None:
        try:
            await self._store.record(endpoint.address, endpoint.port, key)
        except HostKeyConflictError:
            conn.close()
            raise HostKeyChangedError(
                host,
                f"{endpoint.label} presented a key that differs from the one just recorded for "
                f"it in {self.known_hosts_path}; refusing to connect.",
            ) from None
        except OSError as exc:
            conn.close()
            raise ConnectorError(
                host,
                f"could not record the host key of {endpoint.label} in "
                f"{self.known_hosts_path}: {exc}.",
            ) from None

    async def _key_type_change(
        self,
        host: str,
        endpoint: SSHEndpoint,
        known: list[asyncssh.SSHKey],
        tunnel: asyncssh.SSHClientConnection | None,
    ) -> HostKeyChangedError | None:
        """HostKeyChangedError if the host now offers only key types other than the recorded
        ones; None if that is not why the connection failed (or the host cannot tell us)."""
        try:
            offered = await asyncio.wait_for(
                asyncssh.get_server_host_key(
                    endpoint.address,
                    endpoint.port,
                    tunnel=tunnel if tunnel is not None else (),
                    config=[],
                ),
                self.connect_timeout,
            )
        except (asyncssh.Error, OSError, TimeoutError):
            return None
        recorded = sorted({key.get_algorithm() for key in known})
        if offered is None or offered.get_algorithm() in recorded:
            return None
        path = self.known_hosts_path
        pattern = host_pattern(endpoint.address, endpoint.port)
        return HostKeyChangedError(
            host,
            f"{endpoint.label} now has a {offered.get_algorithm()} host key, but {path} records "
            f"only {', '.join(recorded)} for it: the host was reinstalled, or someone is "
            "intercepting the connection. Refusing to connect; if the change is expected, run "
            f"ssh-keygen -R '{pattern}' -f {path}.",
        )

    def _host_key_error(
        self,
        host: str,
        endpoint: SSHEndpoint,
        checker: _HostKeyCheck | None,
        exc: asyncssh.HostKeyNotVerifiable,
    ) -> HostKeyError:
        path = self.known_hosts_path
        problem = checker.problem if checker is not None else None
        if problem == "changed":
            pattern = host_pattern(endpoint.address, endpoint.port)
            return HostKeyChangedError(
                host,
                f"the host key of {endpoint.label} does not match the one recorded in {path}: "
                "the host was reinstalled, or someone is intercepting the connection. Refusing "
                f"to connect; if the change is expected, run ssh-keygen -R '{pattern}' -f {path}.",
            )
        if problem == "unknown":
            return HostKeyError(
                host,
                f"{endpoint.label} is not in {path} and the host key policy is strict. Add its "
                "key to known_hosts, or choose hostKeyPolicy accept-new to trust it on first use.",
            )
        return HostKeyError(host, f"the host key of {endpoint.label} was refused: {exc.reason}.")
