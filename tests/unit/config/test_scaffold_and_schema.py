"""The commented scaffold written by `kubexms create config`, and the JSON Schema."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from kubexms.config import ConfigError, cluster_json_schema, parse_config, scaffold_config

from .sample import base


def test_scaffold_parses_as_is() -> None:
    cluster = parse_config(scaffold_config())
    assert cluster.name == "demo"
    assert [host.name for host in cluster.hosts_with_role("worker")] == ["node2", "node3"]


def test_scaffold_takes_the_cluster_name() -> None:
    text = scaffold_config("prod-eu-1")
    assert parse_config(text).name == "prod-eu-1"
    assert "./.kubexms/prod-eu-1" in text


def test_scaffold_rejects_a_bad_name() -> None:
    with pytest.raises(ConfigError, match=r"metadata\.name"):
        scaffold_config("Prod_EU")


def test_scaffold_has_every_section_and_comments() -> None:
    text = scaffold_config()
    spec = yaml.safe_load(text)["spec"]
    assert set(spec) == {
        "hosts",
        "roleGroups",
        "global",
        "controlPlaneEndpoint",
        "kubernetes",
        "etcd",
        "network",
        "registry",
        "addons",
        "artifacts",
        "osPackages",
    }
    assert spec["osPackages"] == {"source": "auto"}
    assert cluster_json_schema()["$defs"]["OSPackages"]["properties"]["source"]["enum"] == [
        "auto",
        "repositories",
        "offline",
    ]
    assert set(spec["roleGroups"]) == {"master", "worker", "etcd", "loadbalancer", "registry"}
    # Every field of the global section is shown, set or commented out.
    for field in cluster_json_schema()["$defs"]["GlobalSettings"]["properties"]:
        assert re.search(rf"^\s*#?\s*{field}:", text, re.MULTILINE), field
    for field in cluster_json_schema()["$defs"]["Host"]["properties"]:
        assert re.search(rf"^\s*(- )?#?\s*{field}:", text, re.MULTILINE), field
    comment_lines = [line for line in text.splitlines() if "#" in line]
    assert len(comment_lines) > 60


def test_scaffold_shows_environment_references_only_in_comments() -> None:
    for line in scaffold_config().splitlines():
        if "${" in line:
            assert line.split("${")[0].count("#") >= 1, line


def test_schema_is_json_and_uses_yaml_names() -> None:
    schema = cluster_json_schema()
    json.dumps(schema)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert set(schema["required"]) == {"apiVersion", "kind", "metadata", "spec"}
    assert set(schema["properties"]) == {"apiVersion", "kind", "metadata", "spec"}
    definitions = schema["$defs"]
    assert "roleGroups" in definitions["Spec"]["properties"]
    assert "global" in definitions["Spec"]["properties"]
    assert "privateKeyPath" in definitions["Host"]["properties"]
    assert "kubePodsCIDR" in definitions["Network"]["properties"]
    assert "certSANs" in definitions["ApiServer"]["properties"]
    assert definitions["Host"]["additionalProperties"] is False
    host_key_policy = definitions["GlobalSettings"]["properties"]["hostKeyPolicy"]
    assert host_key_policy["enum"] == ["strict", "accept-new", "off"]
    assert host_key_policy["default"] == "strict"


def test_valid_files_validate_against_the_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = cluster_json_schema()
    jsonschema.validate(yaml.safe_load(scaffold_config()), schema)
    jsonschema.validate(base(), schema)
    broken = base()
    broken["spec"]["hosts"][0]["port"] = "22"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)
