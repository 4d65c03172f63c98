"""Encryption at rest: the key is made once on this machine, kept 0600, never shown."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest
import yaml

from kubexms.config import Cluster, parse_config
from kubexms.kubernetes.binary import (
    EncryptionConfigError,
    EncryptionKey,
    encryption_config,
    encryption_directory,
    ensure_encryption_config,
)
from kubexms.kubernetes.binary._module import BinaryControlPlaneModule
from kubexms.steps import PlacePKIFiles
from tests.unit.config.sample import to_yaml
from tests.unit.kubernetes.binary.planning import plan_binary
from tests.unit.kubernetes.sample import cluster_data


def _cluster(tmp_path: Path) -> Cluster:
    data = cluster_data(kubernetes={"type": "kubexm"})
    data["spec"]["global"]["workDir"] = str(tmp_path / "work")
    return parse_config(to_yaml(data))


def test_the_key_is_made_once_kept_0600_and_reused(tmp_path: Path) -> None:
    cluster = _cluster(tmp_path)
    assert ensure_encryption_config(cluster) is True
    path = encryption_directory(cluster) / "encryption-config.yaml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = path.read_bytes()
    document = yaml.safe_load(first)
    provider = document["resources"][0]["providers"]
    assert document["kind"] == "EncryptionConfiguration"
    assert document["resources"][0]["resources"] == ["secrets"]
    assert len(base64.b64decode(provider[0]["aescbc"]["keys"][0]["secret"])) == 32
    assert provider[1] == {"identity": {}}
    assert ensure_encryption_config(cluster) is False
    assert path.read_bytes() == first


def test_a_damaged_stored_file_is_refused_not_replaced(tmp_path: Path) -> None:
    cluster = _cluster(tmp_path)
    path = encryption_directory(cluster) / "encryption-config.yaml"
    path.parent.mkdir(parents=True)
    path.write_text("kind: Something\n")
    with pytest.raises(EncryptionConfigError, match="not an encryption configuration"):
        ensure_encryption_config(cluster)
    assert path.read_text() == "kind: Something\n"


def test_a_key_of_the_wrong_size_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        encryption_config(b"short")


def test_the_key_is_in_no_plan_parameter(tmp_path: Path) -> None:
    cluster = _cluster(tmp_path)
    ensure_encryption_config(cluster)
    text = (encryption_directory(cluster) / "encryption-config.yaml").read_text()
    secret = yaml.safe_load(text)["resources"][0]["providers"][0]["aescbc"]["keys"][0]["secret"]
    graph = plan_binary(cluster, BinaryControlPlaneModule())
    placed = [
        node.step
        for node in graph.nodes.values()
        if isinstance(node.step, PlacePKIFiles) and node.step.name == "encryption-config"
    ]
    assert len(placed) == 1
    assert placed[0].files[0].dest == "/etc/kubernetes/encryption-config.yaml"
    assert placed[0].files[0].wanted_mode == 0o600
    for node in graph.nodes.values():
        assert secret not in repr(node.step.params())
    assert any(isinstance(node.step, EncryptionKey) for node in graph.nodes.values())
