"""Hosts with inherited values filled in, role lookups and the work directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from kubexms.config import Cluster, ResolvedBastion, ResolvedHost, parse_config

from .sample import base, to_yaml


def _cluster(change: dict[int, dict[str, Any]] | None = None, **global_: Any) -> Cluster:
    data = base()
    data["spec"]["global"] = global_ or {"privateKeyPath": "/root/.ssh/id_ed25519"}
    for index, fields in (change or {}).items():
        data["spec"]["hosts"][index].update(fields)
    return parse_config(to_yaml(data))


def _secret(value: SecretStr | None) -> str | None:
    return None if value is None else value.get_secret_value()


def test_every_field_is_filled_from_defaults() -> None:
    (host, *_) = _cluster().resolved_hosts()
    assert host == ResolvedHost(
        name="node1",
        address="10.213.0.11",
        internal_address="10.213.0.11",
        port=22,
        user="root",
        password=None,
        private_key_path=Path("/root/.ssh/id_ed25519"),
        private_key=None,
        sudo_password=None,
        arch=None,
        labels={},
        roles=frozenset({"master", "etcd"}),
        bastion=None,
        connector="ssh",
    )


def test_hosts_keep_config_order() -> None:
    cluster = _cluster()
    assert [host.name for host in cluster.resolved_hosts()] == ["node1", "node2", "node3"]
    assert [host.name for host in cluster.hosts_with_role("worker")] == ["node2", "node3"]
    assert [host.name for host in cluster.hosts_with_role("master")] == ["node1"]
    assert cluster.hosts_with_role("registry") == []


def test_role_order_in_the_group_does_not_change_config_order() -> None:
    data = base()
    data["spec"]["roleGroups"]["worker"] = ["node3", "node2"]
    cluster = parse_config(to_yaml(data))
    assert [host.name for host in cluster.hosts_with_role("worker")] == ["node2", "node3"]


def test_unknown_role_is_a_key_error() -> None:
    with pytest.raises(KeyError, match="unknown role 'workers'"):
        _cluster().hosts_with_role("workers")


def test_global_user_port_and_password_are_inherited() -> None:
    cluster = _cluster(user="ops", port=2222, password="pw", sudoPassword="sudo-pw")
    for host in cluster.resolved_hosts():
        assert (host.user, host.port) == ("ops", 2222)
        assert _secret(host.password) == "pw"
        assert _secret(host.sudo_password) == "sudo-pw"
        assert host.private_key_path is None


def test_sudo_password_defaults_to_the_password() -> None:
    (host, *_) = _cluster(user="ops", password="pw").resolved_hosts()
    assert _secret(host.sudo_password) == "pw"


def test_host_values_override_global_ones() -> None:
    cluster = _cluster(
        {0: {"user": "admin", "port": 2200, "privateKey": "KEY", "internalAddress": "192.168.0.1"}},
        user="ops",
        password="pw",
    )
    first, second, _ = cluster.resolved_hosts()
    assert (first.user, first.port, first.internal_address) == ("admin", 2200, "192.168.0.1")
    # A host that names its own login method does not also inherit global's.
    assert first.password is None
    assert _secret(first.private_key) == "KEY"
    assert first.sudo_password is None
    assert _secret(second.password) == "pw"


def test_home_is_expanded_in_key_paths() -> None:
    (host, *_) = _cluster(privateKeyPath="~/.ssh/id_rsa").resolved_hosts()
    assert host.private_key_path == Path.home() / ".ssh" / "id_rsa"


def test_labels_arch_and_connector() -> None:
    cluster = _cluster({1: {"labels": {"zone": "a"}, "arch": "arm64", "connector": "local"}})
    host = cluster.resolved_hosts()[1]
    assert dict(host.labels) == {"zone": "a"}
    assert host.arch == "arm64"
    assert host.connector == "local"
    with pytest.raises(TypeError):
        host.labels["zone"] = "b"  # type: ignore[index]


def test_resolved_host_is_frozen_and_hashable() -> None:
    host = _cluster().resolved_hosts()[0]
    with pytest.raises(AttributeError):
        host.name = "other"  # type: ignore[misc]
    assert len({host, _cluster().resolved_hosts()[0]}) == 1


def test_global_bastion_applies_to_every_host_with_the_host_credentials() -> None:
    cluster = _cluster(password="pw", user="ops", bastion={"address": "10.213.0.2"})
    for host in cluster.resolved_hosts():
        assert host.bastion == ResolvedBastion(
            address="10.213.0.2",
            port=22,
            user="ops",
            password=SecretStr("pw"),
            private_key_path=None,
            private_key=None,
        )


def test_bastion_with_its_own_credentials() -> None:
    cluster = _cluster(
        privateKeyPath="/k",
        bastion={"address": "jump.example.com", "port": 2022, "user": "jump", "password": "jp"},
    )
    bastion = cluster.resolved_hosts()[0].bastion
    assert bastion is not None
    assert (bastion.address, bastion.port, bastion.user) == ("jump.example.com", 2022, "jump")
    assert _secret(bastion.password) == "jp"
    assert bastion.private_key_path is None


def test_host_bastion_overrides_global_and_null_turns_it_off() -> None:
    cluster = _cluster(
        {1: {"bastion": {"address": "10.213.0.3"}}, 2: {"bastion": None}},
        privateKeyPath="/k",
        bastion={"address": "10.213.0.2"},
    )
    first, second, third = cluster.resolved_hosts()
    assert first.bastion is not None
    assert first.bastion.address == "10.213.0.2"
    assert second.bastion is not None
    assert second.bastion.address == "10.213.0.3"
    assert second.bastion.private_key_path == Path("/k")
    assert third.bastion is None


def test_a_host_does_not_jump_through_itself() -> None:
    cluster = _cluster(privateKeyPath="/k", bastion={"address": "10.213.0.11"})
    first, second, _ = cluster.resolved_hosts()
    assert first.bastion is None
    assert second.bastion is not None


def test_local_hosts_have_no_bastion() -> None:
    cluster = _cluster({0: {"connector": "local"}}, bastion={"address": "10.213.0.2"})
    assert cluster.resolved_hosts()[0].bastion is None


def test_work_dir_defaults_under_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert _cluster().work_dir == tmp_path / ".kubexms" / "demo"


def test_work_dir_from_global(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert _cluster(workDir="/srv/kx").work_dir == Path("/srv/kx")
    assert _cluster(workDir="state").work_dir == tmp_path / "state"
    assert _cluster(workDir="~/kx").work_dir == Path.home() / "kx"


def test_known_hosts_path() -> None:
    assert _cluster().known_hosts_path == Path.home() / ".ssh" / "known_hosts"
    assert _cluster(knownHostsPath="/tmp/kh").known_hosts_path == Path("/tmp/kh")
