"""The RBAC objects ``kubeadm init`` creates, made by the double as kubeadm makes them (phases
kubeconfig's ``kubeadm:cluster-admins``, upload-config, bootstrap-token and addon/kube-proxy;
cmd/kubeadm/app/phases/...), so the API-server double's enforced authorization sees what a real
cluster has: the joins' bootstrap token reads kubeadm-config, kubelet-config and nodes, makes
its kubelet's CSR; anonymous discovery reads cluster-info."""

from __future__ import annotations

from typing import Any

from ._core import ApiError, Client

BOOTSTRAP_GROUP = "system:bootstrappers:kubeadm:default-node-token"
NODES_GROUP = "system:nodes"
RBAC = "/apis/rbac.authorization.k8s.io/v1"
CLUSTER_ROLE_BINDINGS = f"{RBAC}/clusterrolebindings"


def _subject(kind: str, name: str, namespace: str = "") -> dict[str, str]:
    subject = {"kind": kind, "name": name}
    if kind == "ServiceAccount":
        subject["namespace"] = namespace
    else:
        subject["apiGroup"] = "rbac.authorization.k8s.io"
    return subject


def _binding(kind: str, name: str, role_kind: str, role: str, subjects: list[Any],
             namespace: str = "") -> dict[str, Any]:  # fmt: skip
    metadata = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": metadata,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
        "subjects": subjects,
    }


def _get_role(kind: str, name: str, resource: str, names: list[str],
              namespace: str = "") -> dict[str, Any]:  # fmt: skip
    metadata = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": metadata,
        "rules": [{"apiGroups": [""], "resources": [resource], "verbs": ["get"],
                   **({"resourceNames": names} if names else {})}],
    }  # fmt: skip


def _namespaced(client: Client, namespace: str, role: str, names: list[str], subjects: list[Any],
                resource: str = "configmaps") -> None:  # fmt: skip
    """A Role that may get ``names`` of ``resource`` in ``namespace``, bound to ``subjects``."""
    client.put_object(f"{RBAC}/namespaces/{namespace}/roles",
                      _get_role("Role", role, resource, names, namespace))  # fmt: skip
    client.put_object(f"{RBAC}/namespaces/{namespace}/rolebindings",
                      _binding("RoleBinding", role, "Role", role, subjects, namespace))  # fmt: skip


def ensure_cluster_admins(admin: Client, super_admin: Client) -> None:
    """``kubeadm:cluster-admins`` -> cluster-admin: made with admin.conf when it may, else with
    super-admin.conf (``system:masters``), as kubeadm's EnsureAdminClusterRoleBinding does
    (admin.conf's group has no rights until this binding exists)."""
    binding = _binding("ClusterRoleBinding", "kubeadm:cluster-admins", "ClusterRole",
                       "cluster-admin", [_subject("Group", "kubeadm:cluster-admins")])  # fmt: skip
    try:
        admin.request("POST", CLUSTER_ROLE_BINDINGS, binding)
    except ApiError as error:
        if error.status == 403:
            super_admin.put_object(CLUSTER_ROLE_BINDINGS, binding)
        elif error.status != 409:
            raise
    print("[kubeconfig] the kubeadm:cluster-admins ClusterRoleBinding exists")


def upload_config_roles(client: Client) -> None:
    """upload-config: bootstrap tokens and nodes may read kubeadm-config and kubelet-config."""
    readers = [_subject("Group", BOOTSTRAP_GROUP), _subject("Group", NODES_GROUP)]
    _namespaced(client, "kube-system", "kubeadm:nodes-kubeadm-config", ["kubeadm-config"], readers)
    _namespaced(client, "kube-system", "kubeadm:kubelet-config", ["kubelet-config"], readers)


def bootstrap_token_rbac(client: Client) -> None:
    """bootstrap-token: what a joining node's token may do (get nodes, make its kubelet's CSR,
    have it auto-approved), nodes' certificate rotation, anonymous reading cluster-info."""
    tokens = [_subject("Group", BOOTSTRAP_GROUP)]
    client.put_object(f"{RBAC}/clusterroles",
                      _get_role("ClusterRole", "kubeadm:get-nodes", "nodes", []))  # fmt: skip
    for name, role, subjects in (
        ("kubeadm:get-nodes", "kubeadm:get-nodes", tokens),
        ("kubeadm:kubelet-bootstrap", "system:node-bootstrapper", tokens),
        ("kubeadm:node-autoapprove-bootstrap",
         "system:certificates.k8s.io:certificatesigningrequests:nodeclient", tokens),
        ("kubeadm:node-autoapprove-certificate-rotation",
         "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
         [_subject("Group", NODES_GROUP)]),
    ):  # fmt: skip
        binding = _binding("ClusterRoleBinding", name, "ClusterRole", role, subjects)
        client.put_object(CLUSTER_ROLE_BINDINGS, binding)
    _namespaced(client, "kube-public", "kubeadm:bootstrap-signer-clusterinfo", ["cluster-info"],
                [_subject("User", "system:anonymous")])  # fmt: skip
    print("[bootstrap-token] Configured RBAC rules for bootstrap tokens and cluster-info")


def kube_proxy_rbac(client: Client) -> None:
    """addon/kube-proxy: its service account is a node-proxier; tokens read its ConfigMap."""
    client.put_object(CLUSTER_ROLE_BINDINGS, _binding(
        "ClusterRoleBinding", "kubeadm:node-proxier", "ClusterRole", "system:node-proxier",
        [_subject("ServiceAccount", "kube-proxy", "kube-system")]))  # fmt: skip
    _namespaced(client, "kube-system", "kube-proxy", ["kube-proxy"],
                [_subject("Group", BOOTSTRAP_GROUP)])  # fmt: skip
