"""OpenAPI v3 discovery as much as kubectl's field validation needs.

kubectl (1.27+) asks ``/openapi/v3`` for each group-version's document and looks for the PATCH
operation of the kind with a ``fieldValidation`` parameter; when present it leaves validation to
the server (``fieldValidation=Strict``), which this double does for top-level and metadata
fields (store.py). For CustomResources kubectl looks at the Namespace's PATCH operation instead.
``/openapi/v2`` is not served: kubectl only reads it when v3 says validation is unsupported.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .resources import Resource

PARAMETERS = [
    {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
    for name in ("dryRun", "fieldManager", "fieldValidation", "force", "pretty")
]


def _prefix(group_version: str) -> str:
    return "api/v1" if group_version == "v1" else f"apis/{group_version}"


def v3_group_version(path: str, resources: list[Resource]) -> dict[str, Any] | None:
    """The document of one group-version (``api/v1``, ``apis/apps/v1``), or None."""
    chosen = [r for r in resources if _prefix(r.group_version) == path]
    if not chosen:
        return None
    paths: dict[str, Any] = {}
    for resource in chosen:
        scope = "/namespaces/{namespace}" if resource.namespaced else ""
        gvk = {"group": resource.group, "version": resource.version, "kind": resource.kind}
        paths[f"/{path}{scope}/{resource.plural}/{{name}}"] = {
            "patch": {
                "operationId": f"patch{resource.kind}",
                "x-kubernetes-action": "patch",
                "x-kubernetes-group-version-kind": gvk,
                "parameters": PARAMETERS,
                "responses": {"200": {"description": "OK"}},
            }
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes (kubexms test double)", "version": "unversioned"},
        "paths": paths,
    }


def v3_root(resources: list[Resource]) -> dict[str, Any]:
    paths = {}
    for group_version in sorted({r.group_version for r in resources}):
        prefix = _prefix(group_version)
        document = v3_group_version(prefix, resources)
        digest = hashlib.sha512(json.dumps(document, sort_keys=True).encode()).hexdigest()
        paths[prefix] = {"serverRelativeURL": f"/openapi/v3/{prefix}?hash={digest.upper()}"}
    return {"paths": paths}
