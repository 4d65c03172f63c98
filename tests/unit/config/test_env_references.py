"""`${ENV_VAR}` references: resolved at load time, never printed, written back as references."""

from __future__ import annotations

import pytest

from kubexms.config import ConfigError, dump_config, parse_config

from .sample import base, to_yaml

PASSWORD = "s3cr3t-from-env"


@pytest.fixture
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KX_TEST_PASSWORD", PASSWORD)
    monkeypatch.setenv("KX_TEST_SUDO", "sudo-" + PASSWORD)
    monkeypatch.setenv("KX_TEST_REGISTRY", "reg-" + PASSWORD)
    monkeypatch.setenv("KX_TEST_KEY", "-----BEGIN KEY-----\nabc\n-----END KEY-----\n")
    monkeypatch.setenv("KX_TEST_HOME", "/home/ops")
    monkeypatch.setenv("KX_TEST_ADDRESS", "10.213.0.99")


def _with_references() -> str:
    data = base()
    spec = data["spec"]
    spec["global"] = {"password": "${KX_TEST_PASSWORD}", "sudoPassword": "${KX_TEST_SUDO}"}
    spec["hosts"][1]["privateKey"] = "${KX_TEST_KEY}"
    spec["hosts"][2]["privateKeyPath"] = "${KX_TEST_HOME}/.ssh/id"
    spec["hosts"][2]["address"] = "${KX_TEST_ADDRESS}"
    spec["registry"] = {
        "auths": {"reg.example.com": {"username": "u", "password": "${KX_TEST_REGISTRY}"}}
    }
    return to_yaml(data)


@pytest.mark.usefixtures("secret_env")
def test_references_are_resolved_at_load_time() -> None:
    cluster = parse_config(_with_references())
    first, second, third = cluster.resolved_hosts()
    assert first.password is not None
    assert first.password.get_secret_value() == PASSWORD
    assert first.sudo_password is not None
    assert first.sudo_password.get_secret_value() == "sudo-" + PASSWORD
    assert second.private_key is not None
    assert second.private_key.get_secret_value().startswith("-----BEGIN KEY-----\n")
    assert str(third.private_key_path) == "/home/ops/.ssh/id"
    assert third.address == "10.213.0.99"
    auth = cluster.spec.registry.auths["reg.example.com"]
    assert auth.password.get_secret_value() == "reg-" + PASSWORD


@pytest.mark.usefixtures("secret_env")
def test_secrets_never_print() -> None:
    cluster = parse_config(_with_references())
    shown = " ".join([str(cluster), repr(cluster), repr(cluster.resolved_hosts())])
    assert PASSWORD not in shown
    assert "BEGIN KEY" not in shown


@pytest.mark.usefixtures("secret_env")
def test_dump_writes_the_references_back() -> None:
    cluster = parse_config(_with_references())
    dumped = dump_config(cluster)
    assert PASSWORD not in dumped
    assert "BEGIN KEY" not in dumped
    for reference in (
        "${KX_TEST_PASSWORD}",
        "${KX_TEST_SUDO}",
        "${KX_TEST_KEY}",
        "${KX_TEST_REGISTRY}",
        "${KX_TEST_HOME}/.ssh/id",
        "${KX_TEST_ADDRESS}",
    ):
        assert reference in dumped
    assert parse_config(dumped) == cluster


def test_unset_variable_names_the_variable_not_a_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KX_TEST_OTHER", "other-value-" + PASSWORD)
    monkeypatch.delenv("KX_TEST_MISSING", raising=False)
    data = base()
    data["spec"]["hosts"][0]["password"] = "${KX_TEST_MISSING}"
    data["spec"]["hosts"][1]["password"] = "${KX_TEST_OTHER}"
    data["spec"]["hosts"][2]["address"] = "${KX_TEST_MISSING}"
    with pytest.raises(ConfigError) as caught:
        parse_config(to_yaml(data))
    issues = [(issue.path, issue.message) for issue in caught.value.issues]
    # Reported once as unset, not again as "not an IP address".
    assert issues == [
        ("spec.hosts[0].password", "environment variable KX_TEST_MISSING is not set"),
        ("spec.hosts[2].address", "environment variable KX_TEST_MISSING is not set"),
    ]
    assert PASSWORD not in str(caught.value)


def test_escaped_reference_is_literal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOT_A_REFERENCE", raising=False)
    data = base()
    data["spec"]["hosts"][0]["password"] = "pa$${NOT_A_REFERENCE}ss"
    cluster = parse_config(to_yaml(data))
    password = cluster.resolved_hosts()[0].password
    assert password is not None
    assert password.get_secret_value() == "pa${NOT_A_REFERENCE}ss"
    assert "pa$${NOT_A_REFERENCE}ss" in dump_config(cluster)


def test_plain_dollar_signs_are_kept() -> None:
    data = base()
    data["spec"]["hosts"][0]["password"] = "pa$$w$rd"
    cluster = parse_config(to_yaml(data))
    password = cluster.resolved_hosts()[0].password
    assert password is not None
    assert password.get_secret_value() == "pa$$w$rd"


def test_empty_variable_for_a_secret_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KX_TEST_EMPTY", "")
    data = base()
    data["spec"]["hosts"][0]["password"] = "${KX_TEST_EMPTY}"
    with pytest.raises(ConfigError, match=r"spec.hosts\[0\].password: must not be empty"):
        parse_config(to_yaml(data))
