"""Patches and server-side apply on JSON objects.

Simplifications (documented in tests/doubles/README.md): a strategic merge patch is applied as a
JSON merge patch (lists are replaced, not merged by key), and server-side apply treats every list
as atomic (owned and replaced whole, like ``x-kubernetes-list-type: atomic``).
"""

from __future__ import annotations

import copy
import json
from typing import Any

from .errors import ApiError, bad_request

Json = dict[str, Any]
IDENTITY = {"apiVersion", "kind"}
METADATA_IDENTITY = {
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "creationTimestamp",
    "generation",
    "managedFields",
    "deletionTimestamp",
    "selfLink",
}


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):  # strategic-merge directives ($patch, $retainKeys...)
            continue
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise bad_request(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(document: Any, parts: list[str]) -> Any:
    current = document
    for part in parts[:-1]:
        current = current[int(part)] if isinstance(current, list) else current[part]
    return current


def json_patch(document: Json, operations: list[Json]) -> Json:
    """RFC 6902 JSON patch (add, remove, replace, move, copy, test)."""
    result = copy.deepcopy(document)
    for operation in operations:
        op = operation.get("op")
        parts = _pointer(str(operation.get("path", "")))
        try:
            if op in ("move", "copy"):
                source = _pointer(str(operation.get("from", "")))
                holder = _parent(result, source)
                key: Any = int(source[-1]) if isinstance(holder, list) else source[-1]
                value = copy.deepcopy(holder[key])
                if op == "move":
                    del holder[key]
                operation = {"op": "add", "path": operation["path"], "value": value}
                op = "add"
            parent = _parent(result, parts)
            last = parts[-1]
            if op == "test":
                actual = parent[int(last)] if isinstance(parent, list) else parent[last]
                if actual != operation.get("value"):
                    raise ApiError(422, "Invalid", f"the test of {operation['path']} failed")
            elif op == "remove":
                del parent[int(last) if isinstance(parent, list) else last]
            elif op in ("add", "replace"):
                if isinstance(parent, list):
                    index = len(parent) if last == "-" else int(last)
                    if op == "add":
                        parent.insert(index, operation.get("value"))
                    else:
                        parent[index] = operation.get("value")
                else:
                    if op == "replace" and last not in parent:
                        raise KeyError(last)
                    parent[last] = operation.get("value")
            else:
                raise bad_request(f"unknown JSON patch operation {op!r}")
        except (KeyError, IndexError, ValueError, TypeError) as error:
            raise ApiError(
                422, "Invalid", f"the JSON patch {op} at {operation.get('path')!r} failed: {error}"
            ) from error
    return result


def fieldset(document: Any, top: bool = True) -> Json:
    """The managed-fields set (``FieldsV1``) of an applied configuration: maps descend, every
    list and scalar is a leaf."""
    if not isinstance(document, dict):
        return {}
    found: Json = {}
    for key, value in document.items():
        if top and key in IDENTITY:
            continue
        if top and key == "metadata" and isinstance(value, dict):
            inner = {k: v for k, v in value.items() if k not in METADATA_IDENTITY}
            if inner:
                found["f:metadata"] = fieldset(inner, top=False)
            continue
        found[f"f:{key}"] = fieldset(value, top=False) if isinstance(value, dict) else {}
    return found


def leaves(fields: Json, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for key, inner in fields.items():
        path = (*prefix, key[2:])
        if inner:
            found.extend(leaves(inner, path))
        else:
            found.append(path)
    return found


def _lookup(document: Any, path: tuple[str, ...]) -> tuple[bool, Any]:
    current = document
    for part in path:
        if not isinstance(current, dict) or part not in current:
            return False, None
        current = current[part]
    return True, current


def _remove(document: Json, path: tuple[str, ...]) -> None:
    current: Any = document
    trail = []
    for part in path[:-1]:
        if not isinstance(current, dict) or part not in current:
            return
        trail.append((current, part))
        current = current[part]
    if isinstance(current, dict):
        current.pop(path[-1], None)
    for holder, part in reversed(trail):  # drop maps the removal left empty
        if holder[part] == {}:
            del holder[part]


def without(fields: Json, others: list[Json]) -> list[tuple[str, ...]]:
    """Leaves of ``fields`` owned by none of ``others``."""
    owned = {leaf for other in others for leaf in leaves(other)}
    return [leaf for leaf in leaves(fields) if leaf not in owned]


def server_side_apply(
    current: Json | None, applied: Json, manager: str, force: bool, group_version: str, now: str
) -> Json:
    """``current`` with ``applied`` applied by ``manager``; a 409 naming the fields another
    manager owns with a different value, unless ``force``."""
    base = copy.deepcopy(current) if current is not None else {}
    entries: list[Json] = list(base.get("metadata", {}).get("managedFields", []))
    mine = [e for e in entries if e.get("manager") == manager and e.get("operation") == "Apply"]
    others = [e for e in entries if e not in mine]
    new_fields = fieldset(applied)
    conflicts = []
    for entry in others:
        owned = set(leaves(entry.get("fieldsV1", {})))
        for leaf in leaves(new_fields):
            if leaf in owned:
                exists, value = _lookup(base, leaf)
                if exists and value != _lookup(applied, leaf)[1]:
                    conflicts.append((entry.get("manager", ""), ".".join(leaf)))
    if conflicts and not force:
        lines = "\n".join(f'- conflict with "{m}": .{p}' for m, p in conflicts)
        raise ApiError(
            409,
            "Conflict",
            f"Apply failed with {len(conflicts)} conflict{'s' if len(conflicts) > 1 else ''}: "
            f"{lines}",
            {
                "causes": [
                    {
                        "reason": "FieldManagerConflict",
                        "message": f'conflict with "{m}"',
                        "field": f".{p}",
                    }
                    for m, p in conflicts
                ]
            },
        )
    previous = mine[0].get("fieldsV1", {}) if mine else {}
    new_leaves = set(leaves(new_fields))
    other_fields = [e.get("fieldsV1", {}) for e in others]
    for leaf in without(previous, other_fields):
        if leaf not in new_leaves:
            _remove(base, leaf)
    result = merge_patch(base, applied)
    if force:  # forced fields change owner
        for entry in others:
            kept = [leaf for leaf in leaves(entry.get("fieldsV1", {})) if leaf not in new_leaves]
            entry["fieldsV1"] = from_leaves(kept)
    others = [e for e in others if e.get("fieldsV1")]
    mine_entry = {
        "manager": manager,
        "operation": "Apply",
        "apiVersion": group_version,
        "time": now,
        "fieldsType": "FieldsV1",
        "fieldsV1": new_fields,
    }
    result.setdefault("metadata", {})["managedFields"] = [*others, mine_entry]
    return dict(result)


def from_leaves(paths: list[tuple[str, ...]]) -> Json:
    found: Json = {}
    for path in paths:
        current = found
        for part in path:
            current = current.setdefault(f"f:{part}", {})
    return found


def record_update(document: Json, body: Json, manager: str, group_version: str, now: str) -> None:
    """Record ``manager`` (operation Update) as owner of the fields ``body`` sets; the fields
    leave their previous owners, as the real field manager does."""
    metadata = document.setdefault("metadata", {})
    written = set(leaves(fieldset(body)))
    entries = []
    for entry in metadata.get("managedFields", []):
        if entry.get("manager") == manager and entry.get("operation") == "Update":
            written |= set(leaves(entry.get("fieldsV1", {})))
            continue
        kept = [leaf for leaf in leaves(entry.get("fieldsV1", {})) if leaf not in written]
        if kept:
            entries.append({**entry, "fieldsV1": from_leaves(kept)})
    if written:
        entries.append(
            {
                "manager": manager,
                "operation": "Update",
                "apiVersion": group_version,
                "time": now,
                "fieldsType": "FieldsV1",
                "fieldsV1": from_leaves(sorted(written)),
            }
        )
    metadata["managedFields"] = entries


def decode_body(raw: bytes, content_type: str) -> Any:
    """A request body as JSON; YAML only for apply patches (kubectl sends JSON, but the type
    says YAML and other clients send YAML)."""
    try:
        return json.loads(raw)
    except ValueError:
        if "yaml" not in content_type:
            raise bad_request("the request body is not valid JSON") from None
    try:
        import yaml  # Debian's python3-yaml; only needed for YAML bodies
    except ImportError as error:  # pragma: no cover - depends on the host
        raise bad_request("YAML bodies need python3-yaml on this host") from error
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as error:
        raise bad_request(f"the request body is not valid YAML: {error}") from error
