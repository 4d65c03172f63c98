"""The names kubexms.connector promises; a change here is a change of contract."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

import kubexms.connector as connector
from kubexms.connector import SSHClientSettings, SSHEndpoint


def test_public_names_are_pinned_and_sorted() -> None:
    assert connector.__all__ == [
        "AuthenticationError",
        "CommandFailedError",
        "CommandResult",
        "CommandTimeoutError",
        "ConnectTimeoutError",
        "Connector",
        "ConnectorError",
        "FileTransferError",
        "HostConnectionError",
        "HostKeyChangedError",
        "HostKeyError",
        "HostKeyPolicy",
        "HostLostError",
        "LocalConnector",
        "SSHClientSettings",
        "SSHConnector",
        "SSHEndpoint",
        "SudoError",
    ]
    assert connector.__all__ == sorted(connector.__all__)
    for name in connector.__all__:
        assert getattr(connector, name) is not None


def test_connectors_implement_the_whole_contract() -> None:
    for cls in (connector.LocalConnector, connector.SSHConnector):
        assert issubclass(cls, connector.Connector)
        assert not inspect.isabstract(cls)


def test_endpoint_hides_secrets_and_validates() -> None:
    endpoint = SSHEndpoint("10.0.0.1", 22, "root", password="hunter2", private_key="PEM")
    assert "hunter2" not in repr(endpoint)
    assert "PEM" not in repr(endpoint)
    assert endpoint.label == "10.0.0.1:22"
    assert SSHEndpoint("fd00::1", 2222).label == "[fd00::1]:2222"
    with pytest.raises(ValueError, match=r"outside 1\.\.65535"):
        SSHEndpoint("10.0.0.1", 0)
    with pytest.raises(ValueError, match="empty or contains spaces"):
        SSHEndpoint("")


def test_settings_defaults_and_validation(tmp_path: Path) -> None:
    settings = SSHClientSettings()
    assert settings.host_key_policy == "strict"
    assert settings.known_hosts_path == Path.home() / ".ssh" / "known_hosts"
    explicit = SSHClientSettings(host_key_policy="accept-new", known_hosts_path=tmp_path / "kh")
    assert explicit.known_hosts_path == tmp_path / "kh"
    with pytest.raises(ValueError, match="not one of strict, accept-new, off"):
        SSHClientSettings(host_key_policy="yes")  # type: ignore[arg-type]
