"""The API's resources: the built-in ones kubexms and its add-ons use, plus every established
CustomResourceDefinition (read from etcd, so all doubles sharing it see the same kinds)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass(frozen=True)
class Resource:
    group: str  # "" for the core group
    version: str
    plural: str
    kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    status: bool = False  # has a /status subresource
    singular: str = ""
    review: bool = False  # an access review: created and answered, never stored

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def storage_prefix(self) -> str:
        """Where the objects live in etcd (like the real apiserver: group-qualified for CRDs)."""
        return f"/registry/{self.group + '/' if self.group else ''}{self.plural}/"

    def key(self, namespace: str | None, name: str) -> str:
        if self.namespaced:
            return f"{self.storage_prefix()}{namespace}/{name}"
        return f"{self.storage_prefix()}{name}"

    def api_resource(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "name": self.plural,
            "singularName": self.singular or self.kind.lower(),
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": ["create"] if self.review else VERBS,
        }
        if self.short_names:
            entry["shortNames"] = list(self.short_names)
        return entry


def _r(
    group: str,
    version: str,
    plural: str,
    kind: str,
    namespaced: bool,
    *short: str,
    status: bool = False,
) -> Resource:
    return Resource(group, version, plural, kind, namespaced, tuple(short), status)


BUILTIN: tuple[Resource, ...] = (
    _r("", "v1", "namespaces", "Namespace", False, "ns", status=True),
    _r("", "v1", "nodes", "Node", False, "no", status=True),
    _r("", "v1", "pods", "Pod", True, "po", status=True),
    _r("", "v1", "services", "Service", True, "svc", status=True),
    _r("", "v1", "endpoints", "Endpoints", True, "ep"),
    _r("", "v1", "configmaps", "ConfigMap", True, "cm"),
    _r("", "v1", "secrets", "Secret", True),
    _r("", "v1", "serviceaccounts", "ServiceAccount", True, "sa"),
    _r("", "v1", "events", "Event", True, "ev"),
    _r("", "v1", "persistentvolumes", "PersistentVolume", False, "pv", status=True),
    _r("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True, "pvc", status=True),
    _r("", "v1", "limitranges", "LimitRange", True, "limits"),
    _r("", "v1", "resourcequotas", "ResourceQuota", True, "quota", status=True),
    _r("apps", "v1", "daemonsets", "DaemonSet", True, "ds", status=True),
    _r("apps", "v1", "deployments", "Deployment", True, "deploy", status=True),
    _r("apps", "v1", "statefulsets", "StatefulSet", True, "sts", status=True),
    _r("apps", "v1", "replicasets", "ReplicaSet", True, "rs", status=True),
    _r("batch", "v1", "jobs", "Job", True, status=True),
    _r("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    _r("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    _r("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    _r("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    _r(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        False,
        "crd",
        "crds",
        status=True,
    ),
    _r(
        "certificates.k8s.io",
        "v1",
        "certificatesigningrequests",
        "CertificateSigningRequest",
        False,
        "csr",
        status=True,
    ),
    _r("coordination.k8s.io", "v1", "leases", "Lease", True),
    Resource(
        "authorization.k8s.io",
        "v1",
        "subjectaccessreviews",
        "SubjectAccessReview",
        False,
        review=True,
    ),
    Resource(
        "authorization.k8s.io",
        "v1",
        "selfsubjectaccessreviews",
        "SelfSubjectAccessReview",
        False,
        review=True,
    ),
    _r("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True),
    _r("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True, "netpol"),
    _r("networking.k8s.io", "v1", "ingressclasses", "IngressClass", False),
    _r("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, "pdb", status=True),
    _r("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", False, "pc"),
    _r("storage.k8s.io", "v1", "storageclasses", "StorageClass", False, "sc"),
    _r(
        "admissionregistration.k8s.io",
        "v1",
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
        False,
    ),
    _r(
        "admissionregistration.k8s.io",
        "v1",
        "mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration",
        False,
    ),
)

CRD_RESOURCE = next(r for r in BUILTIN if r.kind == "CustomResourceDefinition")


def crd_resources(crd: dict[str, Any]) -> list[Resource]:
    """The served versions of a CustomResourceDefinition as resources."""
    spec = crd.get("spec", {})
    names = spec.get("names", {})
    found = []
    for version in spec.get("versions", []):
        if not version.get("served", False):
            continue
        found.append(
            Resource(
                group=spec.get("group", ""),
                version=version.get("name", ""),
                plural=names.get("plural", ""),
                kind=names.get("kind", ""),
                namespaced=spec.get("scope") == "Namespaced",
                short_names=tuple(names.get("shortNames", [])),
                status="status" in version.get("subresources", {}),
                singular=names.get("singular", ""),
            )
        )
    return found


def resources_with(crds: list[bytes]) -> list[Resource]:
    found = list(BUILTIN)
    for raw in crds:
        found.extend(crd_resources(json.loads(raw)))
    return found


def api_versions() -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}],
    }


def group_list(resources: list[Resource]) -> dict[str, Any]:
    groups: dict[str, list[str]] = {}
    for resource in resources:
        if resource.group:
            versions = groups.setdefault(resource.group, [])
            if resource.version not in versions:
                versions.append(resource.version)
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [group_document(name, versions) for name, versions in groups.items()],
    }


def group_document(name: str, versions: list[str]) -> dict[str, Any]:
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": name,
        "versions": entries,
        "preferredVersion": entries[0],
    }


def resource_list(group_version: str, resources: list[Resource]) -> dict[str, Any] | None:
    chosen = [r for r in resources if r.group_version == group_version]
    if not chosen:
        return None
    entries = []
    for resource in chosen:
        entries.append(resource.api_resource())
        if resource.status:
            entries.append(
                {
                    "name": f"{resource.plural}/status",
                    "singularName": "",
                    "namespaced": resource.namespaced,
                    "kind": resource.kind,
                    "verbs": ["get", "patch", "update"],
                }
            )
        if resource.kind == "CertificateSigningRequest":
            entries.append(
                {
                    "name": f"{resource.plural}/approval",
                    "singularName": "",
                    "namespaced": False,
                    "kind": resource.kind,
                    "verbs": ["get", "patch", "update"],
                }
            )
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": entries,
    }
