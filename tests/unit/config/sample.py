"""A small valid cluster to start each test from, and helpers to run the loader on it."""

from __future__ import annotations

import copy
from typing import Any

import yaml

from kubexms.config import ConfigError, ConfigIssue, parse_config

BASE: dict[str, Any] = {
    "apiVersion": "kubexms.io/v1alpha1",
    "kind": "Cluster",
    "metadata": {"name": "demo"},
    "spec": {
        "hosts": [
            {"name": "node1", "address": "10.213.0.11"},
            {"name": "node2", "address": "10.213.0.12"},
            {"name": "node3", "address": "10.213.0.13"},
        ],
        "roleGroups": {"master": ["node1"], "etcd": ["node1"], "worker": ["node2", "node3"]},
        "global": {"privateKeyPath": "/root/.ssh/id_ed25519"},
    },
}


def base() -> dict[str, Any]:
    """A deep copy of the valid three-host cluster."""
    return copy.deepcopy(BASE)


def to_yaml(data: object) -> str:
    return yaml.safe_dump(data, sort_keys=False)


def issues_of(text: str) -> list[ConfigIssue]:
    """The issues `parse_config` reports; fails the test if the text is valid."""
    try:
        parse_config(text, source="cluster.yaml")
    except ConfigError as error:
        return error.issues
    raise AssertionError("expected the config to be rejected")


def paths_of(text: str) -> list[str]:
    return [issue.path for issue in issues_of(text)]
