"""What the cluster file refuses: values it cannot use, and files that are not cluster files.

Timeouts are finite and positive; a malformed ``${...}`` is an error, never literal text; label
keys and values follow Kubernetes' syntax; a NUL byte, absurd nesting and a huge file are one
clear file-level issue (size and depth are checked before parsing), never a traceback.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from kubexms.cli._config import app as config_app
from kubexms.config import ConfigError, load_config, parse_config

from .sample import base, issues_of, to_yaml

SECRET_TAIL = "s3cr3t-tail"


@pytest.mark.parametrize("field", ["connectionTimeout", "commandTimeout", "keepaliveInterval"])
@pytest.mark.parametrize(("value", "word"), [(".nan", ".nan"), (".inf", ".inf"), ("-.inf", ".inf")])
def test_timeouts_are_finite(field: str, value: str, word: str) -> None:
    text = to_yaml(base()).replace("  global:\n", f"  global:\n    {field}: {value}\n", 1)
    (issue,) = issues_of(text)
    assert issue.path == f"spec.global.{field}"
    assert word in issue.message
    assert issue.line is not None


def test_a_finite_timeout_is_kept() -> None:
    data = base()
    data["spec"]["global"]["commandTimeout"] = 1.5
    cluster = parse_config(to_yaml(data))
    assert math.isclose(cluster.spec.global_.command_timeout, 1.5)


@pytest.mark.parametrize(
    "reference",
    ["${FOO", "pw${FOO", "${}", "${1A}", "${A-B}", "x${FOO}y${BAR", "${" + SECRET_TAIL],
)
def test_a_malformed_reference_is_an_error_with_its_path(
    reference: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FOO", "foo-value")
    data = base()
    data["spec"]["hosts"][1]["sudoPassword"] = reference
    issues = issues_of(to_yaml(data))
    assert [issue.path for issue in issues] == ["spec.hosts[1].sudoPassword"]
    assert "${" in issues[0].message
    assert "foo-value" not in issues[0].message
    assert SECRET_TAIL not in issues[0].message  # the text after an unfinished `${` may be secret


def test_an_escaped_unfinished_reference_is_literal_text() -> None:
    data = base()
    data["spec"]["hosts"][1]["sudoPassword"] = "pa$${ss"
    cluster = parse_config(to_yaml(data))
    password = cluster.spec.hosts[1].sudo_password
    assert password is not None
    assert password.get_secret_value() == "pa${ss"


VALID_LABELS = {
    "disktype": "ssd",
    "node.kubernetes.io/role": "",
    "example.com/zone_A-1.b": "Eu-West_1.a",
    "a": "b",
    "x" * 63: "y" * 63,
    ("d" * 63 + ".") * 3 + "d" * 61 + "/name": "v",  # a prefix of 253 characters
}


def test_kubernetes_labels_are_accepted() -> None:
    data = base()
    data["spec"]["hosts"][0]["labels"] = VALID_LABELS
    cluster = parse_config(to_yaml(data))
    assert dict(cluster.spec.hosts[0].labels) == VALID_LABELS


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("-disk", "ssd", "name must be"),
        ("disk-", "ssd", "name must be"),
        ("x" * 64, "v", "name must be"),
        ("disk type", "ssd", "name must be"),
        ("Example.com/zone", "a", "prefix"),
        ("a/b/c", "v", "prefix"),
        (("d" * 63 + ".") * 4 + "/name", "v", "prefix"),  # 256 characters
        ("/name", "v", "empty prefix"),
        ("example.com/", "v", "no name"),
        ("disk", "-ssd", "label value"),
        ("disk", "ssd.", "label value"),
        ("disk", "y" * 64, "label value"),
        ("disk", "a b", "label value"),
    ],
)
def test_labels_outside_kubernetes_syntax_are_refused(key: str, value: str, says: str) -> None:
    data = base()
    data["spec"]["hosts"][2]["labels"] = {"fine": "yes", key: value}
    (issue,) = issues_of(to_yaml(data))
    assert issue.path.startswith("spec.hosts[2].labels")
    assert says in issue.message


def test_a_nul_byte_is_one_file_level_issue() -> None:
    text = to_yaml(base()).replace("node2", "no\x00de2", 1)
    (issue,) = issues_of(text)
    assert issue.path == ""
    assert "NUL byte" in issue.message
    assert issue.line == text[: text.index("\x00")].count("\n") + 1


def test_another_control_character_is_named() -> None:
    (issue,) = issues_of(to_yaml(base()).replace("node3", "node\x073", 1))
    assert "U+0007" in issue.message


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * 100_000,
        "a: " + "{" * 100_000,
        "a: " + "[x, " * 20_000,
        "".join(" " * depth + "k:\n" for depth in range(1_000)),
    ],
    ids=["brackets", "braces", "lists-with-items", "block-indentation"],
)
def test_deep_nesting_is_refused_before_composing(text: str) -> None:
    (issue,) = issues_of(text)  # no RecursionError, no traceback
    assert issue.path == ""
    assert "nested more than 64 levels deep" in issue.message


def test_nesting_up_to_the_cap_parses() -> None:
    with pytest.raises(ConfigError) as caught:  # valid YAML, not a cluster: field issues only
        parse_config("a: " + "[" * 63 + "]" * 63 + "\n")  # with the mapping: 64 levels
    assert all("nested" not in issue.message for issue in caught.value.issues)


def test_a_huge_text_is_refused_before_parsing() -> None:
    (issue,) = issues_of("a: '" + "x" * (50 * 1024 * 1024) + "'\n")
    assert issue.path == ""
    assert "50.0 MiB" in issue.message
    assert "at most 4 MiB" in issue.message


def test_a_huge_file_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    path = tmp_path / "cluster.yaml"
    with path.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)  # sparse: 50 MiB that cost nothing to write
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    (issue,) = caught.value.issues
    assert "50.0 MiB" in issue.message


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_an_endless_file_is_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config("/dev/zero")
    assert "larger than 4 MiB" in caught.value.issues[0].message


@pytest.mark.parametrize(
    "content",
    [b"\x00\x01binary", b"a: " + b"[" * 100_000],
    ids=["binary", "nested"],
)
def test_the_cli_reports_file_level_issues_without_a_traceback(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_bytes(content)
    result = CliRunner().invoke(config_app, ["validate", "-f", str(path)])
    assert result.exit_code == 1
    assert "1 problem" in result.output
    assert "Traceback" not in result.output


def test_an_unquoted_reference_in_a_flow_mapping_gets_a_hint() -> None:
    text = to_yaml(base()).replace(
        "- name: node2\n    address: 10.213.0.12\n",
        "- {name: node2, address: 10.213.0.12, sudoPassword: ${NODE2_SUDO}}\n",
    )
    assert "${NODE2_SUDO}}" in text
    (issue,) = issues_of(text)
    assert "quote ${...} references inside {...} or [...]" in issue.message


def test_a_quoted_reference_in_a_flow_mapping_works(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NODE2_SUDO", "sudo-pass")
    text = to_yaml(base()).replace(
        "- name: node2\n    address: 10.213.0.12\n",
        '- {name: node2, address: 10.213.0.12, sudoPassword: "${NODE2_SUDO}"}\n',
    )
    password = parse_config(text).spec.hosts[1].sudo_password
    assert password is not None
    assert password.get_secret_value() == "sudo-pass"


def test_an_unquoted_reference_in_a_flow_sequence_gets_the_hint() -> None:
    text = to_yaml(base()).replace("privateKeyPath: /root/.ssh/id_ed25519", "x: [${A}, b]")
    (issue,) = issues_of(text)
    assert "quote ${...} references" in issue.message
