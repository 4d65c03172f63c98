"""``kubectl get``'s human output: the server-side Table (``meta.k8s.io/v1``) it asks for with
``Accept: application/json;as=Table;v=v1;g=meta.k8s.io``. Nodes get upstream's columns (NAME,
STATUS, ROLES, AGE, VERSION); every other kind NAME and AGE (upstream prints more for some)."""

from __future__ import annotations

import calendar
import time
from typing import Any

Json = dict[str, Any]
TABLE_ACCEPT = "as=Table"


def _age(stamp: str) -> str:
    try:
        seconds = int(time.time() - calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")))
    except ValueError:
        return "<unknown>"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size * 2:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def _column(name: str, kind: str = "string", priority: int = 0) -> Json:
    return {"name": name, "type": kind, "format": "name" if name == "Name" else "",
            "description": name, "priority": priority}  # fmt: skip


def _node_cells(node: Json) -> list[Any]:
    conditions = {c.get("type"): c.get("status") for c in node.get("status", {}).get("conditions")
                  or []}  # fmt: skip
    ready = conditions.get("Ready")
    status = {"True": "Ready", "False": "NotReady"}.get(str(ready), "Unknown")
    if node.get("spec", {}).get("unschedulable"):
        status += ",SchedulingDisabled"
    labels = node.get("metadata", {}).get("labels") or {}
    roles = sorted(
        key.removeprefix("node-role.kubernetes.io/")
        for key in labels
        if key.startswith("node-role.kubernetes.io/")
    )
    version = node.get("status", {}).get("nodeInfo", {}).get("kubeletVersion", "")
    metadata = node.get("metadata", {})
    return [metadata.get("name", ""), status, ",".join(roles) or "<none>",
            _age(metadata.get("creationTimestamp", "")), version]  # fmt: skip


def table(kind: str, items: list[Json], revision: str) -> Json:
    if kind == "Node":
        columns = [_column("Name"), _column("Status"), _column("Roles"), _column("Age"),
                   _column("Version")]  # fmt: skip
    else:
        columns = [_column("Name"), _column("Age")]
    rows = []
    for item in items:
        metadata = item.get("metadata", {})
        cells = (
            _node_cells(item)
            if kind == "Node"
            else [metadata.get("name", ""), _age(metadata.get("creationTimestamp", ""))]
        )
        rows.append({"cells": cells, "object": {"kind": "PartialObjectMetadata",
                                                "apiVersion": "meta.k8s.io/v1",
                                                "metadata": metadata}})  # fmt: skip
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1",
            "metadata": {"resourceVersion": revision}, "columnDefinitions": columns,
            "rows": rows}  # fmt: skip
