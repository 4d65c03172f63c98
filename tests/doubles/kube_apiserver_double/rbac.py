"""RBAC (and the Node authorizer) evaluated the way the real apiserver does, on the Roles and
bindings stored in etcd plus the bootstrap policy a real apiserver creates at start.

The double reports a denial instead of enforcing it (tests/doubles/README.md): the request goes
on, and the response carries a ``Warning`` header (kubectl prints it to stderr) and the log a
line, so a flow that a real cluster would forbid shows up without stopping tests of other
phases. Simplifications: aggregated ClusterRoles are not aggregated; the Node authorizer lets a
node read every ConfigMap/Secret (the real one only those its pods use); the controller-manager,
scheduler and kube-proxy users may do everything (their real roles are long lists).
"""

from __future__ import annotations

import json
from typing import Any

from .auth import User
from .etcd import EtcdClient

Json = dict[str, Any]
ALL: Json = {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}
EVERYTHING: list[Json] = [ALL, {"nonResourceURLs": ["*"], "verbs": ["*"]}]
PUBLIC_INFO = [{"nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"],
                "verbs": ["get"]}]  # fmt: skip
DISCOVERY = [{"nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/openapi",
                                  "/openapi/*", "/version", "/version/", "/healthz", "/livez",
                                  "/readyz"], "verbs": ["get"]}]  # fmt: skip
BASIC_USER = [{"apiGroups": ["authorization.k8s.io"],
               "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
               "verbs": ["create"]}]  # fmt: skip
NODE_BOOTSTRAPPER = [{"apiGroups": ["certificates.k8s.io"],
                      "resources": ["certificatesigningrequests"],
                      "verbs": ["create", "get", "list", "watch"]}]  # fmt: skip
# The bootstrap policy: ClusterRole name -> rules, and who it is bound to.
BOOTSTRAP_ROLES: dict[str, list[Json]] = {
    "cluster-admin": EVERYTHING,
    "system:public-info-viewer": PUBLIC_INFO,
    "system:discovery": DISCOVERY,
    "system:basic-user": BASIC_USER,
    "system:node-bootstrapper": NODE_BOOTSTRAPPER,
    "system:kube-controller-manager": EVERYTHING,
    "system:kube-scheduler": EVERYTHING,
    "system:node-proxier": EVERYTHING,
}
BOOTSTRAP_BINDINGS: list[tuple[str, str, str]] = [  # (role, subject kind, subject name)
    ("cluster-admin", "Group", "system:masters"),
    ("system:public-info-viewer", "Group", "system:authenticated"),
    ("system:public-info-viewer", "Group", "system:unauthenticated"),
    ("system:discovery", "Group", "system:authenticated"),
    ("system:basic-user", "Group", "system:authenticated"),
    ("system:kube-controller-manager", "User", "system:kube-controller-manager"),
    ("system:kube-scheduler", "User", "system:kube-scheduler"),
    ("system:node-proxier", "User", "system:kube-proxy"),
]
NODE_RESOURCES = {
    ("", "nodes"), ("", "nodes/status"), ("", "pods"), ("", "pods/status"), ("", "events"),
    ("", "configmaps"), ("", "secrets"), ("", "services"), ("", "endpoints"),
    ("", "persistentvolumeclaims"), ("", "persistentvolumes"), ("coordination.k8s.io", "leases"),
    ("certificates.k8s.io", "certificatesigningrequests"), ("events.k8s.io", "events"),
    ("discovery.k8s.io", "endpointslices"), ("storage.k8s.io", "csidrivers"),
    ("node.k8s.io", "runtimeclasses"),
}  # fmt: skip


def _matches(values: list[str], wanted: str) -> bool:
    return "*" in values or wanted in values


def _url_matches(patterns: list[str], path: str) -> bool:
    for pattern in patterns:
        if pattern == "*" or pattern == path:
            return True
        if pattern.endswith("*") and path.startswith(pattern[:-1]):
            return True
    return False


def rule_allows(rule: Json, verb: str, request: dict[str, str], path: str) -> bool:
    if not _matches(rule.get("verbs") or [], verb):
        return False
    if not request.get("plural"):
        return _url_matches(rule.get("nonResourceURLs") or [], path)
    resource = request["plural"] + (f"/{request['subresource']}" if request.get("subresource")
                                    else "")  # fmt: skip
    resources = rule.get("resources") or []
    if not (
        _matches(rule.get("apiGroups") or [], request.get("group", ""))
        and (
            "*" in resources
            or resource in resources
            or f"{request['plural']}/*" in resources
            or (request.get("subresource") and f"*/{request['subresource']}" in resources)
        )
    ):
        return False  # fmt: skip
    names = rule.get("resourceNames") or []
    return not names or request.get("name", "") in names


def _subject_matches(subject: Json, user: User, binding_namespace: str) -> bool:
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "User":
        return bool(name == user.name)
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        return user.name == f"system:serviceaccount:{namespace}:{name}"
    return False


def _node_allows(user: User, verb: str, request: dict[str, str]) -> bool:
    if "system:nodes" not in user.groups or not user.name.startswith("system:node:"):
        return False
    resource = (request.get("group", ""),
                request["plural"] + (f"/{request['subresource']}" if request.get("subresource")
                                     else ""))  # fmt: skip
    return resource in NODE_RESOURCES or (request.get("group", ""), request["plural"]) in {
        ("authentication.k8s.io", "tokenreviews"),
        ("authorization.k8s.io", "subjectaccessreviews"),
    }


class Authorizer:
    def __init__(self, etcd: EtcdClient, modes: list[str]) -> None:
        self.etcd = etcd
        self.modes = modes or ["AlwaysAllow"]

    def _stored(self, prefix: str) -> list[Json]:
        return [json.loads(kv.value) for kv in self.etcd.list_prefix(prefix)[0]]

    def _role_rules(self, kind: str, name: str, namespace: str) -> list[Json]:
        if kind == "ClusterRole" and name in BOOTSTRAP_ROLES:
            return BOOTSTRAP_ROLES[name]
        prefix = "clusterroles" if kind == "ClusterRole" else f"roles/{namespace}"
        kv = self.etcd.get(f"/registry/rbac.authorization.k8s.io/{prefix}/{name}")
        rules: list[Json] = json.loads(kv.value).get("rules") or [] if kv else []
        return rules

    def decide(self, user: User, verb: str, path: str, request: dict[str, str]) -> str | None:
        """None when allowed, else the real apiserver's reason for refusing."""
        if "system:masters" in user.groups or "AlwaysAllow" in self.modes:
            return None
        if "Node" in self.modes and request.get("plural") and _node_allows(user, verb, request):
            return None
        if "RBAC" in self.modes:
            for role, kind, name in BOOTSTRAP_BINDINGS:
                subject = {"kind": kind, "name": name}
                if _subject_matches(subject, user, "") and any(
                    rule_allows(r, verb, request, path) for r in BOOTSTRAP_ROLES[role]
                ):
                    return None
            bindings = [(b, "") for b in self._stored(
                "/registry/rbac.authorization.k8s.io/clusterrolebindings/")]  # fmt: skip
            if request.get("namespace"):
                bindings += [(b, request["namespace"]) for b in self._stored(
                    f"/registry/rbac.authorization.k8s.io/rolebindings/{request['namespace']}/"
                )]  # fmt: skip
            for binding, namespace in bindings:
                if not any(_subject_matches(s, user, namespace)
                           for s in binding.get("subjects") or []):  # fmt: skip
                    continue
                ref = binding.get("roleRef") or {}
                rules = self._role_rules(str(ref.get("kind")), str(ref.get("name")), namespace)
                if any(rule_allows(rule, verb, request, path) for rule in rules):
                    return None
        if request.get("plural"):
            what = f'resource "{request["plural"]}" in API group "{request.get("group", "")}"'
            where = (f' in the namespace "{request["namespace"]}"' if request.get("namespace")
                     else " at the cluster scope")  # fmt: skip
        else:
            what, where = f'path "{path}"', ""
        return f'User "{user.name}" cannot {verb} {what}{where}'
