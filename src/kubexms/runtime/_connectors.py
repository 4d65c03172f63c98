"""Build each host's connector from the cluster file, sharing what can be shared."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from kubexms.connector import (
    Connector,
    LocalConnector,
    SSHClientSettings,
    SSHConnector,
    SSHEndpoint,
)

if TYPE_CHECKING:
    from kubexms.config import ResolvedBastion, ResolvedHost
    from kubexms.runtime._inventory import HostInventory


class _Secret(Protocol):  # pydantic's SecretStr, without importing pydantic
    def get_secret_value(self) -> str: ...


def _reveal(secret: _Secret | None) -> str | None:
    return secret.get_secret_value() if secret is not None else None


def _bastion_endpoint(bastion: ResolvedBastion) -> SSHEndpoint:
    return SSHEndpoint(
        address=bastion.address,
        port=bastion.port,
        user=bastion.user,
        password=_reveal(bastion.password),
        private_key_path=bastion.private_key_path,
        private_key=_reveal(bastion.private_key),
    )


class ConnectorBuilder:
    """Makes connectors for one cluster; SSH settings (known_hosts, keys) are built once."""

    def __init__(self, config: HostInventory) -> None:
        settings = config.spec.global_
        self._ssh_settings = SSHClientSettings(
            host_key_policy=settings.host_key_policy,
            known_hosts_path=settings.known_hosts_path,
            connect_timeout=float(settings.connection_timeout),
            keepalive_interval=float(settings.keepalive_interval),
            keepalive_count_max=settings.keepalive_count_max,
        )
        self._stop_grace = float(settings.stop_grace)

    def build(self, host: ResolvedHost) -> Connector:
        connector = self._build(host)
        connector.stop_grace = self._stop_grace
        return connector

    def _build(self, host: ResolvedHost) -> Connector:
        sudo_password = _reveal(host.sudo_password)
        if host.connector == "local":
            return LocalConnector(host.name, sudo_password=sudo_password)
        endpoint = SSHEndpoint(
            address=host.address,
            port=host.port,
            user=host.user,
            password=_reveal(host.password),
            private_key_path=host.private_key_path,
            private_key=_reveal(host.private_key),
        )
        bastion = _bastion_endpoint(host.bastion) if host.bastion is not None else None
        return SSHConnector(
            host.name, endpoint, self._ssh_settings, bastion=bastion, sudo_password=sudo_password
        )
