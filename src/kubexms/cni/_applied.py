"""How a rerun knows what the server already holds: every object kubexms applies carries the
sha256 of the manifest it came from, and a Helm release kubexms installs carries the sha256 of
its inputs as the release's description.

The precheck reads these back from the API server (``kubectl get -f``, ``helm status``), so a
manifest that changed, an object someone deleted, or a release that failed is applied again,
while a rerun of an unchanged cluster changes nothing.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any

from kubexms.cni._objects import KubeObject, dump_objects

APPLIED_ANNOTATION = "kubexms.io/applied-sha256"
"""The annotation holding the sha256 of the manifest an object was applied from."""
HELM_DESCRIPTION_PREFIX = "kubexms sha256="
"""A release kubexms installed says, as its description, the sha256 of its inputs."""


def manifest_digest(objects: Sequence[KubeObject]) -> str:
    """The sha256 of the objects as kubexms would write them without the annotation."""
    return hashlib.sha256(dump_objects(objects).encode()).hexdigest()


def annotated(objects: Sequence[KubeObject]) -> tuple[list[KubeObject], str]:
    """Copies of ``objects``, each annotated with their manifest's digest, and the digest."""
    digest = manifest_digest(objects)
    found = []
    for obj in objects:
        marked = copy.deepcopy(obj)
        metadata = marked.setdefault("metadata", {})
        annotations = metadata.get("annotations") or {}
        metadata["annotations"] = {**annotations, APPLIED_ANNOTATION: digest}
        found.append(marked)
    return found, digest


def applied_digests(get_output: str) -> list[str | None]:
    """The annotation of every object in ``kubectl get -f ... -o json`` output (one object or
    a List), None for an object without it. Empty output (``--ignore-not-found``, nothing
    there) is no object."""
    if not get_output.strip():
        return []
    document: Any = json.loads(get_output)
    items = document.get("items", []) if document.get("kind") == "List" else [document]
    digests: list[str | None] = []
    for item in items:
        annotations = (item.get("metadata") or {}).get("annotations") or {}
        value = annotations.get(APPLIED_ANNOTATION)
        digests.append(None if value is None else str(value))
    return digests


def objects_missing(expected: int, digest: str, found: Iterable[str | None]) -> int:
    """How many of ``expected`` objects the server lacks or holds from another manifest."""
    current = sum(1 for value in found if value == digest)
    return max(expected - current, 0)


def helm_fingerprint(parts: Iterable[str | bytes]) -> str:
    """The sha256 of a release's inputs (chart identity, version, values documents)."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


def helm_release_current(status_output: str, fingerprint: str) -> tuple[bool, str]:
    """Whether ``helm status -o json`` shows the release deployed from these inputs, and what
    it shows otherwise (for the plan's detail)."""
    try:
        document: Any = json.loads(status_output)
        info = document.get("info") or {}
    except (ValueError, AttributeError):
        return False, "release status unreadable"
    status = str(info.get("status") or "unknown")
    if status != "deployed":
        return False, f"release is {status}"
    if info.get("description") != HELM_DESCRIPTION_PREFIX + fingerprint:
        return False, "chart or values differ from the release's"
    return True, ""


def helm_release_note(status_output: str) -> str:
    """The release as the run summary shows it, from ``helm status -o json``:
    ``ingress-nginx deployed, revision 2, chart ingress-nginx-4.11.2``."""
    try:
        document: Any = json.loads(status_output)
        info = document.get("info") or {}
        chart = (document.get("chart") or {}).get("metadata") or {}
    except (ValueError, AttributeError):
        return "release status unreadable"
    note = f"{document.get('name') or '?'} {info.get('status') or 'unknown'}"
    if document.get("version") is not None:
        note += f", revision {document['version']}"
    if chart.get("name"):
        note += f", chart {chart['name']}-{chart.get('version') or '?'}"
    return note
