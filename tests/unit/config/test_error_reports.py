"""How problems are reported: YAML lines, one message per problem, all of them at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubexms.config import ConfigError, ConfigIssue, load_config, parse_config

from .sample import base, issues_of, to_yaml

SAMPLE = """\
apiVersion: kubexms.io/v1alpha1
kind: Cluster
metadata:
  name: demo
spec:
  hosts:
  - name: node1
    address: 10.213.0.11
  - name: node2
    address: 10.213.0.12
  - name: node3
    address: 10.213.0.13
    port: 70000
  roleGroups:
    master: [node1]
    etcd: [node1]
    worker:
    - node2
    - node[3:4]
  network:
    plugin: calico
"""


def _issue(text: str, path: str) -> ConfigIssue:
    issues = [issue for issue in issues_of(text) if issue.path == path]
    assert issues, f"no issue at {path}"
    return issues[0]


@pytest.mark.parametrize(
    ("path", "line"),
    [
        ("spec.hosts[2].port", 13),
        ("spec.roleGroups.worker[1]", 19),
    ],
)
def test_issue_lines_point_at_the_offending_node(path: str, line: int) -> None:
    assert _issue(SAMPLE, path).line == line


def test_missing_field_points_at_its_parent() -> None:
    text = SAMPLE.replace("    address: 10.213.0.12\n", "")
    issue = _issue(text, "spec.hosts[1].address")
    assert issue.line == 9  # the `- name: node2` item
    assert issue.message == "is required"


def test_missing_section_points_at_the_nearest_parent() -> None:
    text = SAMPLE.replace("port: 70000", "port: 22").replace("node[3:4]", "node3")
    text = text.replace("master: [node1]", "master: [node1, node2]")
    issue = _issue(text, "spec.controlPlaneEndpoint")
    assert issue.line == 5  # `spec:`


def test_message_wording() -> None:
    issue = _issue(SAMPLE, "spec.hosts[2].port")
    assert issue.message == "must be between 1 and 65535"
    issue = _issue(SAMPLE, "spec.roleGroups.worker[1]")
    assert issue.message == "'node[3:4]' includes unknown host node4"


def test_str_lists_every_issue_as_file_line_path_message() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(SAMPLE, source="cluster.yaml")
    assert str(caught.value).splitlines() == [
        "cluster.yaml:13: spec.hosts[2].port: must be between 1 and 65535",
        "cluster.yaml:19: spec.roleGroups.worker[1]: 'node[3:4]' includes unknown host node4",
    ]


def test_every_problem_is_reported_at_once() -> None:
    data = base()
    data["metadata"]["name"] = "Bad"
    data["spec"]["hosts"][0]["port"] = 0
    data["spec"]["hosts"][1]["password"] = "x"
    data["spec"]["hosts"][1]["privateKey"] = "y"
    data["spec"]["hosts"][2]["name"] = "node2"
    data["spec"]["roleGroups"]["worker"].append("ghost")
    data["spec"]["network"] = {"kubePodsCIDR": "10.233.0.0/16"}
    data["spec"]["global"]["hostKeyPolicy"] = "lax"
    paths = {issue.path for issue in issues_of(to_yaml(data))}
    assert {
        "metadata.name",
        "spec.hosts[0].port",
        "spec.hosts[1].privateKey",
        "spec.hosts[2].name",
        "spec.roleGroups.worker[2]",
        "spec.network.kubeServiceCIDR",
        "spec.global.hostKeyPolicy",
    } <= paths


def test_issues_are_in_file_order() -> None:
    data = base()
    data["spec"]["global"]["port"] = 0
    data["spec"]["hosts"][2]["port"] = 0
    data["metadata"]["name"] = "Bad"
    lines = [issue.line or 0 for issue in issues_of(to_yaml(data))]
    assert lines == sorted(lines)


def test_misspelt_field_suggests_the_right_one() -> None:
    data = base()
    data["spec"]["global"]["hostKeyPolcy"] = "strict"
    data["spec"]["hosts"][0]["InternalAddress"] = "10.0.0.1"
    data["spec"]["roleGroups"]["masters"] = ["node1"]
    messages = {issue.path: issue.message for issue in issues_of(to_yaml(data))}
    assert messages["spec.global.hostKeyPolcy"] == (
        "unknown field 'hostKeyPolcy'; did you mean 'hostKeyPolicy'?"
    )
    assert messages["spec.hosts[0].InternalAddress"] == (
        "unknown field 'InternalAddress'; did you mean 'internalAddress'?"
    )
    assert messages["spec.roleGroups.masters"] == (
        "unknown role group 'masters'; did you mean 'master'?"
    )


def test_secret_values_never_appear_in_messages() -> None:
    data = base()
    data["spec"]["hosts"][0]["password"] = "hunter2-secret"
    data["spec"]["hosts"][0]["privateKey"] = "KEY-MATERIAL-secret"
    data["spec"]["hosts"][1]["sudoPassword"] = 424242  # a number where a string is required
    with pytest.raises(ConfigError) as caught:
        parse_config(to_yaml(data))
    text = str(caught.value)
    assert "spec.hosts[1].sudoPassword: must be a string" in text
    for secret in ("hunter2-secret", "KEY-MATERIAL-secret", "424242"):
        assert secret not in text


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("apiVersion: x\nkind: [unclosed\n", 3, "not valid YAML"),
        ("a: 1\n  b: 2\n", 2, "not valid YAML"),
        ("key: 'unterminated\n", 2, "not valid YAML"),
        ("", 1, "the file is empty"),
        ("# only a comment\n", 1, "the file is empty"),
        ("- a\n- b\n", 1, "must be a mapping"),
        ("just text\n", 1, "must be a mapping"),
        ("---\na: 1\n---\nb: 2\n", 3, "not valid YAML"),
    ],
)
def test_unreadable_yaml(text: str, line: int, fragment: str) -> None:
    issues = issues_of(text)
    assert len(issues) == 1
    assert issues[0].path == ""
    assert issues[0].line == line
    assert fragment in issues[0].message


def test_unquoted_range_in_a_flow_list_gets_a_hint() -> None:
    text = SAMPLE.replace("master: [node1]", "master: [node[1:1]]")
    (issue,) = issues_of(text)
    assert issue.line == 15
    assert '["node[1:3]"]' in issue.message


def test_duplicate_yaml_key_is_an_issue() -> None:
    text = SAMPLE.replace("    address: 10.213.0.11\n", "    address: 10.213.0.11\n    name: n1\n")
    issue = _issue(text, "spec.hosts[0].name")
    assert issue.message == "duplicate key (first on line 7)"
    assert issue.line == 9


def test_load_config_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_text(to_yaml(base()))
    assert load_config(path).name == "demo"
    assert load_config(str(path)).name == "demo"


def test_load_config_names_the_file_in_errors(tmp_path: Path) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_text(SAMPLE)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.source == str(path)
    assert str(caught.value).startswith(f"{path}:13: spec.hosts[2].port:")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing.yaml", "file not found"),
        (lambda p: p, "is a directory, not a file"),
    ],
)
def test_unreadable_file(tmp_path: Path, make: object, message: str) -> None:
    assert callable(make)
    target = make(tmp_path)
    with pytest.raises(ConfigError) as caught:
        load_config(target)
    assert [issue.message for issue in caught.value.issues] == [message]
    assert str(caught.value) == f"{target}: {message}"


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "cluster.yaml"
    path.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(ConfigError, match="is not UTF-8 text"):
        load_config(path)


def test_constructing_an_inconsistent_cluster_in_python_raises_config_error() -> None:
    from kubexms.config import Cluster

    data = base()
    data["spec"]["roleGroups"]["worker"] = ["node2"]
    with pytest.raises(ConfigError) as caught:
        Cluster.model_validate(data)
    assert [(i.path, i.line) for i in caught.value.issues] == [("spec.hosts[2]", None)]


@pytest.mark.parametrize(
    "text",
    [
        "a: &a [*a]\n",
        "a: &a\n  b: *a\n",
        "".join(
            f"{name}: &{name} [{', '.join([f'*{previous}'] * 10)}]\n"
            for previous, name in zip("abcdefg", "bcdefgh", strict=True)
        ).replace("[*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]", "[x, x, x, x, x, x, x, x, x, x]"),
    ],
    ids=["self-alias", "recursive mapping", "alias bomb"],
)
def test_recursive_or_exploding_aliases_are_refused(text: str) -> None:
    (issue,) = issues_of(text)
    assert "recursive or repeated alias" in issue.message


def test_aliases_within_reason_work() -> None:
    text = (
        to_yaml(base())
        .replace("  - name: node2\n", "  - &second\n    name: node2\n")
        .replace("    privateKeyPath: /root/.ssh/id_ed25519\n", "    privateKeyPath: &key /k\n")
    )
    cluster = parse_config(text)
    assert str(cluster.spec.global_.private_key_path) == "/k"


def test_empty_host_list_message() -> None:
    data = base()
    data["spec"]["hosts"] = []
    issues = {issue.path: issue.message for issue in issues_of(to_yaml(data))}
    assert issues["spec.hosts"] == "must not be empty"


def test_config_error_survives_pickling() -> None:
    import pickle

    with pytest.raises(ConfigError) as caught:
        parse_config(SAMPLE, source="cluster.yaml")
    copy = pickle.loads(pickle.dumps(caught.value))  # noqa: S301  # our own bytes
    assert copy.issues == caught.value.issues
    assert str(copy) == str(caught.value)


def test_unquoted_off_host_key_policy_means_off() -> None:
    text = to_yaml(base()).replace("  global:\n", "  global:\n    hostKeyPolicy: off\n")
    cluster = parse_config(text)
    assert cluster.spec.global_.host_key_policy == "off"
