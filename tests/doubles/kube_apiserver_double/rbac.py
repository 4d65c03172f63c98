"""``--authorization-mode`` enforced the way the real apiserver does: ``Node`` and ``RBAC`` on
the Roles and bindings stored in etcd plus the bootstrap policy a real apiserver creates at
start, ``AlwaysAllow``, ``AlwaysDeny``; a request none allows is 403 Forbidden with upstream's
message (``forbidden_message``). So kubexms's own bindings (and kubeadm's, made by the kubeadm
double as kubeadm makes them) must be enough, as on a real cluster.

Simplifications (tests/doubles/README.md): aggregated ClusterRoles are not aggregated; the
controller-manager and scheduler users may do everything (they stand for the controllers'
service-account roles of ``--use-service-account-credentials``, and their real roles are long
lists); the Node authorizer's graph knows no Pods (the doubles run none): a node may read a
ConfigMap or Secret that the pod template of a DaemonSet scheduled onto it refers to, and that
DaemonSet itself (the pod the DaemonSet controller would bind to it). What a node may write
beyond that (its own Node only, ...) is the NodeRestriction admission plugin's
(``admission``), after authorization.
"""

from __future__ import annotations

import json
from typing import Any

from .auth import User
from .controllers import DAEMONSET_TOLERATIONS, fits
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
READ = ["get", "list", "watch"]
EVENTS = {"apiGroups": ["", "events.k8s.io"], "resources": ["events"],
          "verbs": ["create", "patch", "update"]}  # fmt: skip
NODE_PROXIER = [
    {"apiGroups": [""], "resources": ["services", "endpoints"], "verbs": ["list", "watch"]},
    {
        "apiGroups": ["discovery.k8s.io"],
        "resources": ["endpointslices"],
        "verbs": ["list", "watch"],
    },
    {"apiGroups": [""], "resources": ["nodes"], "verbs": READ},
    EVENTS,
]
# bootstrappolicy.NodeRules (plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go): what
# the Node authorizer allows a node without looking at its graph.
NODE_RULES: list[Json] = [
    {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]},
    {"apiGroups": ["authorization.k8s.io"],
     "resources": ["subjectaccessreviews", "localsubjectaccessreviews"], "verbs": ["create"]},
    {"apiGroups": [""], "resources": ["services"], "verbs": READ},
    {"apiGroups": [""], "resources": ["nodes"], "verbs": ["create", *READ]},
    {"apiGroups": [""], "resources": ["nodes/status"], "verbs": ["update", "patch"]},
    {"apiGroups": [""], "resources": ["nodes"], "verbs": ["update", "patch"]},
    EVENTS,
    {"apiGroups": [""], "resources": ["pods"], "verbs": READ},
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["create", "delete"]},
    {"apiGroups": [""], "resources": ["pods/status"], "verbs": ["update", "patch"]},
    {"apiGroups": [""], "resources": ["pods/eviction"], "verbs": ["create"]},
    {"apiGroups": [""], "resources": ["endpoints"], "verbs": ["get"]},
    {"apiGroups": ["certificates.k8s.io"], "resources": ["certificatesigningrequests"],
     "verbs": ["create", *READ]},
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
     "verbs": ["get", "create", "update", "patch", "delete"]},
    {"apiGroups": ["storage.k8s.io"], "resources": ["csidrivers"], "verbs": READ},
    {"apiGroups": ["storage.k8s.io"], "resources": ["csinodes"],
     "verbs": ["get", "create", "update", "patch", "delete"]},
    {"apiGroups": ["node.k8s.io"], "resources": ["runtimeclasses"], "verbs": READ},
]  # fmt: skip
GRAPH_RESOURCES = {("", "configmaps"), ("", "secrets"), ("apps", "daemonsets")}
"""What a node may read only through its graph (its pods' references)."""
# The bootstrap policy: ClusterRole name -> rules, and who it is bound to.
BOOTSTRAP_ROLES: dict[str, list[Json]] = {
    "cluster-admin": EVERYTHING,
    "system:public-info-viewer": PUBLIC_INFO,
    "system:discovery": DISCOVERY,
    "system:basic-user": BASIC_USER,
    "system:node-bootstrapper": NODE_BOOTSTRAPPER,
    "system:certificates.k8s.io:certificatesigningrequests:nodeclient": [
        {"apiGroups": ["certificates.k8s.io"],
         "resources": ["certificatesigningrequests/nodeclient"], "verbs": ["create"]}],
    "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient": [
        {"apiGroups": ["certificates.k8s.io"],
         "resources": ["certificatesigningrequests/selfnodeclient"], "verbs": ["create"]}],
    "system:node": NODE_RULES,
    "system:kube-controller-manager": EVERYTHING,
    "system:kube-scheduler": EVERYTHING,
    "system:node-proxier": NODE_PROXIER,
}  # fmt: skip
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


def forbidden_message(user: User, verb: str, path: str, request: dict[str, str]) -> str:
    """Upstream's ``forbiddenMessage`` (apiserver/pkg/endpoints/handlers/responsewriters)."""
    if not request.get("plural"):
        return f'User "{user.name}" cannot {verb} path "{path}"'
    resource = request["plural"] + (f"/{request['subresource']}" if request.get("subresource")
                                    else "")  # fmt: skip
    where = (f' in the namespace "{request["namespace"]}"' if request.get("namespace")
             else " at the cluster scope")  # fmt: skip
    return (f'User "{user.name}" cannot {verb} resource "{resource}" in API group '
            f'"{request.get("group", "")}"{where}')  # fmt: skip


def forbidden_status(user: User, verb: str, path: str, request: dict[str, str]) -> Json:
    """The 403 Status of a denied request, as ``errors.NewForbidden`` words it."""
    message = forbidden_message(user, verb, path, request)
    plural, group, name = request.get("plural"), request.get("group"), request.get("name")
    if plural:
        qualified = f"{plural}.{group}" if group else plural
        subject = f'{qualified} "{name}"' if name else qualified
        text = f"{subject} is forbidden: {message}"
        details: Json = {"kind": plural, **({"name": name} if name else {}),
                         **({"group": group} if group else {})}  # fmt: skip
    else:
        text, details = f"forbidden: {message}", {}
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": text, "reason": "Forbidden", "details": details, "code": 403}  # fmt: skip


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

    def _node_allows(self, user: User, verb: str, path: str, request: dict[str, str]) -> bool:
        """The Node authorizer: a ``system:node:<name>`` of ``system:nodes`` may what
        NODE_RULES allow, and read what its (DaemonSet) pods refer to."""
        if "system:nodes" not in user.groups or not user.name.startswith("system:node:"):
            return False
        if not request.get("plural"):
            return False
        if (request.get("group", ""), request["plural"]) in GRAPH_RESOURCES:
            return verb == "get" and bool(request.get("name")) and self._in_graph(
                user.name.removeprefix("system:node:"), request)  # fmt: skip
        return any(rule_allows(rule, verb, request, path) for rule in NODE_RULES)

    def _in_graph(self, node_name: str, request: dict[str, str]) -> bool:
        """``request``'s object is a DaemonSet scheduled onto the node or a ConfigMap/Secret
        its pod template refers to (see the module docstring)."""
        kv = self.etcd.get(f"/registry/nodes/{node_name}")
        if kv is None:
            return False
        node = json.loads(kv.value)
        namespace, name = request.get("namespace", ""), request.get("name", "")
        for daemonset in self._stored(f"/registry/apps/daemonsets/{namespace}/"):
            pod = daemonset.get("spec", {}).get("template", {}).get("spec", {}) or {}
            if not fits(pod, node, list(DAEMONSET_TOLERATIONS)):
                continue
            if request["plural"] == "daemonsets":
                if daemonset["metadata"]["name"] == name:
                    return True
            elif name in pod_references(pod, request["plural"]):
                return True
        return False

    def decide(self, user: User, verb: str, path: str, request: dict[str, str]) -> str | None:
        """None when allowed, else the real apiserver's message for refusing."""
        if "system:masters" in user.groups or "AlwaysAllow" in self.modes:
            return None
        if "Node" in self.modes and self._node_allows(user, verb, path, request):
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
        return forbidden_message(user, verb, path, request)


def pod_references(pod: Json, plural: str) -> set[str]:
    """The ConfigMaps (or Secrets) a pod spec refers to: volumes, env and envFrom."""
    key, volume_key, name_key = (
        ("configMapKeyRef", "configMap", "name") if plural == "configmaps"
        else ("secretKeyRef", "secret", "secretName")
    )  # fmt: skip
    env_from = "configMapRef" if plural == "configmaps" else "secretRef"
    found: set[str] = set()
    for volume in pod.get("volumes") or []:
        if isinstance(volume.get(volume_key), dict):
            found.add(str(volume[volume_key].get(name_key, "")))
        for source in (volume.get("projected") or {}).get("sources") or []:
            if isinstance(source.get(volume_key), dict):
                found.add(str(source[volume_key].get("name", "")))
    for container in (pod.get("initContainers") or []) + (pod.get("containers") or []):
        for item in container.get("env") or []:
            ref = (item.get("valueFrom") or {}).get(key)
            if isinstance(ref, dict):
                found.add(str(ref.get("name", "")))
        for item in container.get("envFrom") or []:
            if isinstance(item.get(env_from), dict):
                found.add(str(item[env_from].get("name", "")))
    return found
