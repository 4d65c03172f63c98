"""Validate rendered Kubernetes configuration documents against strict upstream-derived schemas.

The schemas are data (tests/fixtures/k8s_schemas): the kubelet, kube-proxy and scheduler ones
generated per minor from the staging repositories' Go types by generate.py there; the kubeadm
v1beta4 ones written from kubeadm's types.go (their ``$comment`` says which source). Every object
has ``additionalProperties: false``, so an unknown or misspelt field fails.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # no stubs among the dev dependencies
import yaml

SCHEMA_DIR = Path(__file__).parents[2] / "fixtures" / "k8s_schemas"
KUBEADM_KINDS = {"InitConfiguration", "ClusterConfiguration", "JoinConfiguration"}
MINORS = ("1.31", "1.32", "1.33", "1.34")


@functools.cache
def schema_for(kind: str, minor: str) -> dict[str, Any]:
    """The schema of ``kind`` for Kubernetes ``minor`` (kubeadm's v1beta4 serves 1.31-1.34)."""
    name = f"{kind}-v1beta4.json" if kind in KUBEADM_KINDS else f"{kind}-{minor}.json"
    schema: dict[str, Any] = json.loads((SCHEMA_DIR / name).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def problems(document: dict[str, Any], minor: str) -> list[str]:
    """Every way ``document`` breaks its kind's schema for ``minor`` (empty: valid)."""
    validator = jsonschema.Draft202012Validator(schema_for(document["kind"], minor))
    return sorted(
        f"{document['kind']}: {'/'.join(str(p) for p in error.absolute_path) or '<root>'}: "
        f"{error.message}"
        for error in validator.iter_errors(document)
    )


def assert_valid_yaml(text: str, minor: str, kinds: Iterable[str] | None = None) -> None:
    """Every document of a rendered multi-document YAML file is valid for ``minor``; when
    ``kinds`` is given, the file holds exactly those kinds in that order."""
    documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    if kinds is not None:
        assert [doc["kind"] for doc in documents] == list(kinds)
    found = [problem for doc in documents for problem in problems(doc, minor)]
    assert not found, "\n".join(found)
