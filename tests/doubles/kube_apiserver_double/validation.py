"""What the apiserver refuses before storing: identity mismatches, invalid names, invalid
CustomResourceDefinitions, and (``fieldValidation=Strict``) unknown top-level or metadata
fields of built-in kinds; deeper fields are not checked."""

from __future__ import annotations

import re
from typing import Any

from .errors import bad_request, invalid
from .resources import Resource

Json = dict[str, Any]
NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
TOP_LEVEL = {
    "apiVersion",
    "kind",
    "metadata",
    "spec",
    "status",
    "data",
    "stringData",
    "binaryData",
    "type",
    "immutable",
    "rules",
    "aggregationRule",
    "subjects",
    "roleRef",
    "secrets",
    "imagePullSecrets",
    "automountServiceAccountToken",
    "subsets",
    "webhooks",
    "value",
    "globalDefault",
    "preemptionPolicy",
    "description",
    "provisioner",
    "parameters",
    "reclaimPolicy",
    "volumeBindingMode",
    "allowVolumeExpansion",
    "mountOptions",
    "allowedTopologies",
    "addressType",
    "endpoints",
    "ports",
    "involvedObject",
    "reason",
    "message",
    "source",
    "firstTimestamp",
    "lastTimestamp",
    "count",
    "eventTime",
    "reportingComponent",
    "reportingInstance",
    "action",
    "related",
    "series",
}
METADATA = {
    "name",
    "generateName",
    "namespace",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
}


def unknown_fields(resource: Resource, body: Json) -> list[str]:
    found = []
    if resource.group == "" or "." not in resource.group or resource.group.endswith(".k8s.io"):
        found = [f'unknown field "{k}"' for k in body if k not in TOP_LEVEL]
    metadata = body.get("metadata")
    if isinstance(metadata, dict):
        found += [f'unknown field "metadata.{k}"' for k in metadata if k not in METADATA]
    return found


def check_identity(resource: Resource, namespace: str | None, body: Json) -> None:
    if not isinstance(body, dict):
        raise bad_request("the object must be a JSON object")
    if body.get("kind") not in (None, resource.kind):
        raise bad_request(
            f"the kind of the object ({body.get('kind')}) does not match the resource "
            f"({resource.kind})"
        )
    if body.get("apiVersion") not in (None, resource.group_version):
        raise bad_request(
            f"the API version in the data ({body.get('apiVersion')}) does not match the "
            f"expected API version ({resource.group_version})"
        )
    metadata = body.get("metadata") or {}
    if resource.namespaced and metadata.get("namespace") not in (None, "", namespace):
        raise bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
        )


def check_fields(resource: Resource, body: Json, validation: str) -> list[str]:
    unknown = unknown_fields(resource, body)
    if unknown and validation == "Strict":
        raise bad_request(f"strict decoding error: {', '.join(unknown)}")
    return unknown if validation == "Warn" else []


def check_name(resource: Resource, name: str) -> None:
    if resource.group == "rbac.authorization.k8s.io":
        # RBAC names are path segments upstream (ValidateRBACName = IsValidPathSegmentName),
        # so kubeadm's "kubeadm:cluster-admins" and "system:coredns" are valid names.
        if name in ("", ".", "..") or "/" in name or "%" in name:
            raise invalid(
                resource.kind,
                name,
                [f"metadata.name: Invalid value: \"{name}\": may not contain '/' or '%'"],
            )
        return
    if not NAME.match(name) or len(name) > 253:
        raise invalid(
            resource.kind,
            name,
            [
                f'metadata.name: Invalid value: "{name}": a lowercase RFC 1123 subdomain must '
                "consist of lower case alphanumeric characters, '-' or '.'"
            ],
        )


def check_crd(document: Json) -> None:
    spec = document.get("spec", {})
    names = spec.get("names", {})
    problems = []
    if not spec.get("group"):
        problems.append("spec.group: Required value")
    if not names.get("plural") or not names.get("kind"):
        problems.append("spec.names.plural and spec.names.kind: Required value")
    elif document["metadata"]["name"] != f"{names['plural']}.{spec.get('group')}":
        problems.append('metadata.name: Invalid value: must be spec.names.plural+"."+spec.group')
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        problems.append("spec.scope: Unsupported value: must be Namespaced or Cluster")
    if sum(1 for v in spec.get("versions", []) if v.get("storage")) != 1:
        problems.append("spec.versions: Invalid value: must have exactly one storage version")
    if problems:
        raise invalid("CustomResourceDefinition", document["metadata"]["name"], problems)
