"""Object storage with the apiserver's write semantics, on the real etcd.

Create/update/patch/apply/delete keep what clients rely on: ``uid``, ``creationTimestamp``,
``resourceVersion`` (etcd's ``mod_revision``; a stale one is a 409), ``generation`` (bumped when
anything but metadata and status changes), ``managedFields``, optimistic concurrency through
etcd transactions, status written only through ``/status`` for kinds that have it, finalizers
holding a deletion, Secrets' ``stringData`` folded into ``data``, ClusterIPs allocated from
``--service-cluster-ip-range``.
"""

from __future__ import annotations

import base64
import copy
import ipaddress
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from . import defaults, patches
from . import validation as checks
from .errors import ApiError, already_exists, bad_request, conflict, not_found
from .etcd import EtcdClient, KeyValue
from .resources import CRD_RESOURCE, Resource, resources_with
from .selectors import Matcher

Json = dict[str, Any]
Admit = Callable[[str, Json | None, Json | None], None]
"""Admission of a write: (CREATE/UPDATE/DELETE, new object, stored object); raises to refuse."""


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


APPROVAL_CONDITIONS = ("Approved", "Denied")
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


class Store:
    def __init__(self, etcd: EtcdClient, service_range: str) -> None:
        self.etcd = etcd
        self._service_range = service_range
        self._crd_cache: tuple[float, list[Resource]] = (0.0, [])
        self._lock = threading.Lock()

    # -- resources ---------------------------------------------------------------------------
    def resources(self) -> list[Resource]:
        with self._lock:
            stamp, cached = self._crd_cache
            if time.monotonic() - stamp < 1.0:
                return cached
        items, _ = self.etcd.list_prefix(CRD_RESOURCE.storage_prefix())
        established = [
            kv.value for kv in items if _condition(json.loads(kv.value), "Established") == "True"
        ]
        found = resources_with(established)
        with self._lock:
            self._crd_cache = (time.monotonic(), found)
        return found

    def forget_resources(self) -> None:
        with self._lock:
            self._crd_cache = (0.0, [])

    def find(self, group: str, version: str, plural: str) -> Resource | None:
        for resource in self.resources():
            if (resource.group, resource.version, resource.plural) == (group, version, plural):
                return resource
        return None

    # -- reads -------------------------------------------------------------------------------
    @staticmethod
    def _decode(kv: KeyValue) -> Json:
        document: Json = json.loads(kv.value)
        document.setdefault("metadata", {})["resourceVersion"] = str(kv.mod_revision)
        return document

    def _read(self, resource: Resource, namespace: str | None, name: str) -> tuple[Json, int]:
        kv = self.etcd.get(resource.key(namespace, name))
        if kv is None:
            raise not_found(resource.plural, name, resource.group)
        return self._decode(kv), kv.mod_revision

    def get(self, resource: Resource, namespace: str | None, name: str) -> Json:
        return self._read(resource, namespace, name)[0]

    def list_objects(
        self, resource: Resource, namespace: str | None, matchers: list[Matcher]
    ) -> tuple[list[Json], int]:
        prefix = resource.storage_prefix()
        if resource.namespaced and namespace:
            prefix += f"{namespace}/"
        items, revision = self.etcd.list_prefix(prefix)
        documents = [self._decode(kv) for kv in items]
        return [d for d in documents if all(m(d) for m in matchers)], revision

    def list_document(self, resource: Resource, items: list[Json], revision: int) -> Json:
        return {
            "kind": f"{resource.kind}List",
            "apiVersion": resource.group_version,
            "metadata": {"resourceVersion": str(revision)},
            "items": items,
        }

    # -- writes ------------------------------------------------------------------------------
    def _prepare(self, resource: Resource, document: Json, namespace: str | None) -> None:
        document["apiVersion"] = resource.group_version
        document["kind"] = resource.kind
        metadata = document.setdefault("metadata", {})
        if resource.namespaced:
            metadata["namespace"] = namespace
        else:
            metadata.pop("namespace", None)
        metadata.pop("resourceVersion", None)
        checks.check_name(resource, metadata.get("name", ""))
        if resource.kind == "Secret" and "stringData" in document:
            data = document.setdefault("data", {}) or {}
            for key, value in (document.pop("stringData") or {}).items():
                data[key] = base64.b64encode(str(value).encode()).decode()
            document["data"] = data
        if resource.kind == "Namespace":
            document["spec"] = document.get("spec") or {"finalizers": ["kubernetes"]}
            document["status"] = {"phase": "Active"}
        if resource.kind == "CustomResourceDefinition":
            checks.check_crd(document)
        defaults.apply_defaults(resource.kind, document)

    def _namespace_exists(self, resource: Resource, namespace: str | None) -> None:
        if resource.namespaced:
            if not namespace:
                raise bad_request("a namespace is required for a namespaced resource")
            if self.etcd.get(f"/registry/namespaces/{namespace}") is None:
                raise not_found("namespaces", namespace)

    def create(
        self,
        resource: Resource,
        namespace: str | None,
        body: Json,
        manager: str,
        validation: str = "Strict",
        admit: Admit | None = None,
    ) -> tuple[Json, list[str]]:
        checks.check_identity(resource, namespace, body)
        warnings = checks.check_fields(resource, body, validation)
        document = copy.deepcopy(body)
        metadata = document.setdefault("metadata", {})
        if admit is not None:  # as upstream: before the name is generated
            admit("CREATE", document, None)
        if not metadata.get("name") and metadata.get("generateName"):
            metadata["name"] = metadata["generateName"] + secrets.token_hex(3)[:5]
        self._prepare(resource, document, namespace)
        self._namespace_exists(resource, namespace)
        metadata.update(uid=str(uuid.uuid4()), creationTimestamp=now())
        for drop in ("deletionTimestamp", "generation", "managedFields"):
            metadata.pop(drop, None)
        if resource.status and resource.kind not in ("Namespace", "Node"):
            document.pop("status", None)
        if "spec" in document or ("." in resource.group and not resource.group.endswith("k8s.io")):
            metadata["generation"] = 1
        if resource.kind == "Service":
            defaults.allocate_cluster_ip(self.etcd, self._service_range, document)
        patches.record_update(document, body, manager, resource.group_version, now())
        revision = self.etcd.create(resource.key(namespace, metadata["name"]), _encode(document))
        if revision is None:
            raise already_exists(resource.plural, metadata["name"], resource.group)
        metadata["resourceVersion"] = str(revision)
        if resource.kind == "CustomResourceDefinition":
            self.forget_resources()
        return document, warnings

    def _save(
        self,
        resource: Resource,
        namespace: str | None,
        name: str,
        before: Json,
        after: Json,
        revision: int,
        subresource: str,
        admit: Admit | None = None,
    ) -> Json:
        """Write ``after`` over ``before`` (read at ``revision``) unless someone wrote since."""
        metadata = after.setdefault("metadata", {})
        for kept in ("uid", "creationTimestamp", "deletionTimestamp"):
            if kept in before.get("metadata", {}):
                metadata[kept] = before["metadata"][kept]
        self._prepare(resource, after, namespace)
        metadata["name"] = name
        if resource.status and not subresource and resource.kind != "Node":
            if "status" in before:
                after["status"] = before["status"]
            else:
                after.pop("status", None)
        if subresource == "approval":  # only the Approved/Denied/Failed conditions change
            status = copy.deepcopy(before.get("status") or {})
            status["conditions"] = (after.get("status") or {}).get("conditions") or []
            after = {
                **copy.deepcopy(before),
                "status": status,
                "metadata": {
                    **before["metadata"],
                    "managedFields": metadata.get("managedFields", []),
                },
            }
        elif subresource == "status":  # the status endpoint changes nothing else
            if resource.kind == "CertificateSigningRequest":
                # As the real CSR status strategy: approval is the /approval subresource's.
                status = dict(after.get("status") or {})
                status["conditions"] = [
                    c
                    for c in (before.get("status") or {}).get("conditions") or []
                    if c.get("type") in APPROVAL_CONDITIONS
                ] + [
                    c
                    for c in status.get("conditions") or []
                    if c.get("type") not in APPROVAL_CONDITIONS
                ]
                if not status["conditions"]:
                    del status["conditions"]
                after["status"] = status
            after = {
                **copy.deepcopy(before),
                "status": after.get("status"),
                "metadata": {
                    **before["metadata"],
                    "managedFields": metadata.get("managedFields", []),
                },
            }
        if "generation" in before.get("metadata", {}):
            content = {k: v for k, v in after.items() if k not in ("metadata", "status")}
            old = {k: v for k, v in before.items() if k not in ("metadata", "status")}
            bump = 1 if content != old else 0
            after["metadata"]["generation"] = before["metadata"]["generation"] + bump
        else:
            after["metadata"].pop("generation", None)
        if admit is not None:
            admit("UPDATE", after, before)
        key = resource.key(namespace, name)
        if after["metadata"].get("deletionTimestamp") and not after["metadata"].get("finalizers"):
            self.etcd.delete(key, revision)
            return after
        after["metadata"].pop("resourceVersion", None)
        written = self.etcd.update(key, _encode(after), revision)
        if written is None:
            raise conflict(
                resource.plural,
                name,
                "the object has been modified; please apply "
                "your changes to the latest version and try again",
            )
        after["metadata"]["resourceVersion"] = str(written)
        if resource.kind == "CustomResourceDefinition":
            self.forget_resources()
        return after

    def replace(
        self,
        resource: Resource,
        namespace: str | None,
        name: str,
        body: Json,
        manager: str,
        subresource: str = "",
        validation: str = "Strict",
        admit: Admit | None = None,
    ) -> tuple[Json, list[str]]:
        checks.check_identity(resource, namespace, body)
        warnings = checks.check_fields(resource, body, validation)
        before, revision = self._read(resource, namespace, name)
        wanted = body.get("metadata", {}).get("resourceVersion")
        if wanted and str(wanted) != str(revision):
            raise conflict(
                resource.plural,
                name,
                "the object has been modified; please apply "
                "your changes to the latest version and try again",
            )
        after = copy.deepcopy(body)
        after.setdefault("metadata", {})["managedFields"] = before["metadata"].get(
            "managedFields", []
        )
        patches.record_update(after, body, manager, resource.group_version, now())
        saved = self._save(resource, namespace, name, before, after, revision, subresource, admit)
        return saved, warnings

    def patch(
        self,
        resource: Resource,
        namespace: str | None,
        name: str,
        content_type: str,
        raw: bytes,
        manager: str,
        force: bool,
        subresource: str = "",
        validation: str = "Strict",
        admit: Admit | None = None,
    ) -> tuple[int, Json, list[str]]:
        """Apply a patch; (HTTP code, object, warnings): 201 when an apply created it."""
        body = patches.decode_body(raw, content_type)
        for _attempt in range(5):  # a concurrent writer is retried, as the real server does
            try:
                before, revision = self._read(resource, namespace, name)
            except ApiError as error:
                if error.code == 404 and "apply-patch" in content_type and not subresource:
                    if not manager:
                        raise bad_request("PATCH of type apply requires fieldManager") from None
                    applied = patches.server_side_apply(
                        None, body, manager, force, resource.group_version, now()
                    )
                    checks.check_identity(resource, namespace, body)
                    warnings = checks.check_fields(resource, body, validation)
                    created, _ = self.create(resource, namespace, applied, manager, "Ignore", admit)
                    created["metadata"]["managedFields"] = applied["metadata"]["managedFields"]
                    return 201, self._rewrite_managed(resource, namespace, created), warnings
                raise
            warnings = []
            if "apply-patch" in content_type:
                if not isinstance(body, dict):
                    raise bad_request("an apply patch must be an object")
                checks.check_identity(resource, namespace, body)
                warnings = checks.check_fields(resource, body, validation)
                after = patches.server_side_apply(
                    before, body, manager, force, resource.group_version, now()
                )
            elif "json-patch" in content_type:
                if not isinstance(body, list):
                    raise bad_request("a JSON patch must be a list of operations")
                after = patches.json_patch(before, body)
                patches.record_update(after, after, manager, resource.group_version, now())
            elif "merge-patch" in content_type:  # JSON merge and strategic merge
                if not isinstance(body, dict):
                    raise bad_request("a merge patch must be an object")
                warnings = checks.check_fields(resource, body, validation)
                after = patches.merge_patch(before, body)
                patches.record_update(after, body, manager, resource.group_version, now())
            else:
                raise ApiError(
                    415,
                    "UnsupportedMediaType",
                    f"the body of the request was in an unknown format: {content_type}",
                )
            wanted = (
                (body.get("metadata") or {}).get("resourceVersion")
                if isinstance(body, dict)
                else None
            )
            if wanted and str(wanted) != str(revision):
                raise conflict(resource.plural, name, "the object has been modified")
            try:
                return (
                    200,
                    self._save(
                        resource, namespace, name, before, after, revision, subresource, admit
                    ),
                    warnings,
                )
            except ApiError as error:
                if error.code != 409 or wanted:
                    raise
        raise conflict(resource.plural, name, "too many concurrent writers")

    def _rewrite_managed(self, resource: Resource, namespace: str | None, created: Json) -> Json:
        name = created["metadata"]["name"]
        before, revision = self._read(resource, namespace, name)
        before["metadata"]["managedFields"] = created["metadata"]["managedFields"]
        stored = copy.deepcopy(before)
        stored["metadata"].pop("resourceVersion", None)
        written = self.etcd.update(resource.key(namespace, name), _encode(stored), revision)
        if written is not None:
            before["metadata"]["resourceVersion"] = str(written)
        return before

    def delete(
        self, resource: Resource, namespace: str | None, name: str, admit: Admit | None = None
    ) -> Json:
        before, revision = self._read(resource, namespace, name)
        if admit is not None:
            admit("DELETE", None, before)
        if before["metadata"].get("finalizers") and resource.kind != "Namespace":
            after = copy.deepcopy(before)
            after["metadata"]["deletionTimestamp"] = now()
            return self._save(resource, namespace, name, before, after, revision, "")
        if not self.etcd.delete(resource.key(namespace, name), revision):
            raise conflict(resource.plural, name, "the object has been modified")
        if resource.kind == "Namespace":
            # The namespace controller's work, done at once: everything in it goes.
            for other in self.resources():
                if other.namespaced:
                    for item in self.etcd.list_prefix(f"{other.storage_prefix()}{name}/")[0]:
                        self.etcd.delete(item.key)
        if resource.kind == "CustomResourceDefinition":
            spec = before.get("spec", {})
            self.etcd.delete_prefix(
                f"/registry/{spec.get('group')}/{spec.get('names', {}).get('plural')}/"
            )
            self.forget_resources()
        return before

    def update_status(
        self,
        resource: Resource,
        namespace: str | None,
        name: str,
        mutate: Callable[[Json], Json | None],
    ) -> None:
        """A controller's write: ``mutate`` returns the new object or None to leave it."""
        for _attempt in range(3):
            try:
                before, revision = self._read(resource, namespace, name)
            except ApiError:
                return
            after = mutate(copy.deepcopy(before))
            if after is None or after == before:
                return
            after["metadata"].pop("resourceVersion", None)
            if self.etcd.update(resource.key(namespace, name), _encode(after), revision):
                if resource.kind == "CustomResourceDefinition":
                    self.forget_resources()
                return

    # -- bootstrap ---------------------------------------------------------------------------
    def ensure_system_objects(self) -> None:
        """What a fresh apiserver creates: the system namespaces and the kubernetes Service."""
        namespaces = next(r for r in self.resources() if r.kind == "Namespace")
        for name in SYSTEM_NAMESPACES:
            try:
                self.create(namespaces, None, {"metadata": {"name": name}}, "kube-apiserver")
            except ApiError as error:
                if error.code != 409:
                    raise
        services = next(r for r in self.resources() if r.kind == "Service")
        network = ipaddress.ip_network(self._service_range.split(",")[0] or "10.96.0.0/12")
        kubernetes = {
            "metadata": {
                "name": "kubernetes",
                "labels": {"component": "apiserver", "provider": "kubernetes"},
            },
            "spec": {
                "clusterIP": str(network[1]),
                "type": "ClusterIP",
                "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
            },
        }
        try:
            self.create(services, "default", kubernetes, "kube-apiserver")
        except ApiError as error:
            if error.code != 409:
                raise


def _encode(document: Json) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def _condition(document: Json, kind: str) -> str:
    for condition in document.get("status", {}).get("conditions", []) or []:
        if condition.get("type") == kind:
            return str(condition.get("status"))
    return ""
