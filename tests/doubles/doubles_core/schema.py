"""A strict JSON Schema check (the subset of draft 2020-12 that tests/fixtures/k8s_schemas uses:
type, properties, additionalProperties, required, items, $ref, const, enum, pattern, minimum,
maximum, oneOf, not), so the doubles read a configuration as strictly as the unit tests do.
An unknown field is reported as the real strict decoding reports it: ``unknown field
"leaderElection.lease"`` (its whole path)."""

from __future__ import annotations

import json
import re
from typing import Any

from .files import data_text

KUBEADM_KINDS = ("InitConfiguration", "ClusterConfiguration", "JoinConfiguration")
_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def load(kind: str, minor: str) -> dict[str, Any]:
    """The schema of ``kind`` (kubeadm's v1beta4 serves every minor)."""
    name = f"{kind}-v1beta4.json" if kind in KUBEADM_KINDS else f"{kind}-{minor}.json"
    try:
        text = data_text("schemas", name)
    except FileNotFoundError:
        raise KeyError(f"no schema for {kind} (Kubernetes {minor})") from None
    schema: dict[str, Any] = json.loads(text)
    return schema


def _is(value: Any, kind: str) -> bool:
    if kind in ("integer", "number") and isinstance(value, bool):
        return False
    if kind == "number" and isinstance(value, float):
        return True
    return isinstance(value, _TYPES[kind])


def problems(value: Any, schema: dict[str, Any], root: dict[str, Any], path: str = "") -> list[str]:
    """Every way ``value`` breaks ``schema``, each as ``path: what``."""
    where = path or "<root>"
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/$defs/")
        return problems(value, root["$defs"][name], root, path)
    found: list[str] = []
    kind = schema.get("type")
    if kind is not None:
        kinds = kind if isinstance(kind, list) else [kind]
        if not any(_is(value, k) for k in kinds):
            return [f"{where}: expected {'/'.join(kinds)}, got {type(value).__name__}"]
    if "const" in schema and value != schema["const"]:
        found.append(f"{where}: must be {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{where}: must be one of {', '.join(map(str, schema['enum']))}")
    if isinstance(value, str) and "pattern" in schema and not re.search(schema["pattern"], value):
        found.append(f"{where}: {value!r} does not match {schema['pattern']}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            found.append(f"{where}: {value} is less than {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            found.append(f"{where}: {value} is more than {schema['maximum']}")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                found.append(f"{where}: required field {name!r} is missing")
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            sub = f"{path}.{name}" if path else str(name)
            if name in properties:
                found += problems(item, properties[name], root, sub)
            elif extra is False:
                found.append(f'unknown field "{sub}"')
            elif isinstance(extra, dict):
                found += problems(item, extra, root, sub)
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            found += problems(item, schema["items"], root, f"{path}[{index}]")
    if "oneOf" in schema:
        passing = [s for s in schema["oneOf"] if not problems(value, s, root, path)]
        if len(passing) != 1:
            found.append(f"{where}: must match exactly one of {json.dumps(schema['oneOf'])}")
    if "not" in schema and not problems(value, schema["not"], root, path):
        found.append(f"{where}: must not match {json.dumps(schema['not'])}")
    return found


def check(document: dict[str, Any], minor: str) -> list[str]:
    """Every problem of a configuration document against its kind's schema."""
    kind = document.get("kind")
    if not isinstance(kind, str):
        return ["<root>: no kind"]
    try:
        schema = load(kind, minor)
    except KeyError as error:
        return [str(error.args[0])]
    return problems(document, schema, schema)
