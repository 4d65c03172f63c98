"""The API-server double's NodeRestriction admission and SubjectAccessReviews, against a real
etcd on loopback: a kubelet writes only its own Node (no taint, no restricted label), its own
Lease, mirror pods bound to itself and CSRs in its own name; reviews answer with the same
authorizers that guard requests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.doubles.kube_apiserver_double.admission import enabled_plugins, forbidden_labels
from tests.doubles.local_api import LocalApi, kubelet_csr, local_api

MERGE = {"Content-Type": "application/merge-patch+json"}
NODES = "/api/v1/nodes"
CSRS = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
REVIEWS = "/apis/authorization.k8s.io/v1/subjectaccessreviews"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalApi]:
    with local_api(tmp_path_factory.mktemp("noderestriction")) as started:
        yield started


def call(
    api: LocalApi,
    method: str,
    path: str,
    status: int,
    body: Any = None,
    *,
    client: str = "admin.conf",
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    code, got = api.request(method, path, body, client=client, headers=headers)
    assert code == status, (method, path, got)
    document: dict[str, Any] = json.loads(got)
    return document


def node(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
    }


# -- nodes -----------------------------------------------------------------------------------


def test_a_kubelet_registers_and_updates_its_own_node_only(api: LocalApi) -> None:
    kubelet = api.node_kubeconfig("nr-a")
    allowed = {"node.kubernetes.io/pool": "a", "kubelet.kubernetes.io/x": "1", "example.com/t": "1"}
    call(api, "POST", NODES, 201, node("nr-a", allowed), client=kubelet)
    refused = call(api, "POST", NODES, 403, node("nr-b"), client=kubelet)
    assert refused["message"] == (
        'nodes "nr-b" is forbidden: node "nr-a" is not allowed to modify node "nr-b"'
    )
    assert refused["reason"] == "Forbidden"
    status = {"status": {"conditions": [{"type": "Ready", "status": "False"}]}}
    call(api, "PATCH", f"{NODES}/nr-a/status", 200, status, client=kubelet, headers=MERGE)
    api.register_node("nr-b")  # with nr-b's own certificate
    refused = call(api, "PATCH", f"{NODES}/nr-b/status", 403, status, client=kubelet, headers=MERGE)
    assert 'node "nr-a" is not allowed to modify node "nr-b"' in refused["message"]
    refused = call(api, "DELETE", f"{NODES}/nr-b", 403, client=kubelet)  # authorization first
    assert 'User "system:node:nr-a" cannot delete resource "nodes"' in refused["message"]


def test_a_kubelet_may_not_register_with_restricted_labels(api: LocalApi) -> None:
    kubelet = api.node_kubeconfig("nr-c")
    labels = {
        "node-role.kubernetes.io/control-plane": "",
        "node-restriction.kubernetes.io/pool": "x",
        "kubernetes.io/os": "linux",
    }
    refused = call(api, "POST", NODES, 403, node("nr-c", labels), client=kubelet)
    assert refused["message"] == (
        'nodes "nr-c" is forbidden: node "nr-c" is not allowed to set the following labels: '
        "node-restriction.kubernetes.io/pool, node-role.kubernetes.io/control-plane"
    )
    call(api, "GET", f"{NODES}/nr-c", 404)


def test_a_kubelet_may_not_change_its_taints_or_restricted_labels(api: LocalApi) -> None:
    kubelet = api.node_kubeconfig("nr-d")
    call(api, "POST", NODES, 201, node("nr-d"), client=kubelet)
    # What kubeadm's mark-control-plane does, as an administrator: allowed.
    marked = {
        "metadata": {"labels": {"node-role.kubernetes.io/control-plane": ""}},
        "spec": {"taints": [{"key": "node-role.kubernetes.io/control-plane",
                             "effect": "NoSchedule"}]},
    }  # fmt: skip
    call(api, "PATCH", f"{NODES}/nr-d", 200, marked, headers=MERGE)
    for patch, message in (
        ({"spec": {"taints": None}}, 'node "nr-d" is not allowed to modify taints'),
        (
            {"metadata": {"labels": {"node-role.kubernetes.io/control-plane": None}}},
            "is not allowed to modify labels: node-role.kubernetes.io/control-plane",
        ),
        (
            {"metadata": {"labels": {"sub.node-restriction.kubernetes.io/x": "1"}}},
            "is not allowed to modify labels: sub.node-restriction.kubernetes.io/x",
        ),
    ):
        refused = call(api, "PATCH", f"{NODES}/nr-d", 403, patch, client=kubelet, headers=MERGE)
        assert refused["message"] == f'nodes "nr-d" is forbidden: {message}'
    fine = {"metadata": {"labels": {"node.kubernetes.io/exclude": "", "team": "x"}}}
    done = call(api, "PATCH", f"{NODES}/nr-d", 200, fine, client=kubelet, headers=MERGE)
    assert done["metadata"]["labels"]["node-role.kubernetes.io/control-plane"] == ""
    assert done["spec"]["taints"][0]["effect"] == "NoSchedule"


def test_the_label_rules_are_upstreams() -> None:
    assert forbidden_labels({"kubernetes.io/hostname": "n", "topology.kubernetes.io/zone": "z",
                             "beta.kubernetes.io/arch": "amd64", "a.node.kubernetes.io/b": "",
                             "example.com/x": "1", "plain": ""}, {}) == []  # fmt: skip
    assert forbidden_labels({"x.k8s.io/y": "1", "kubernetes.io/role": "m"}, {}) == [
        "kubernetes.io/role",
        "x.k8s.io/y",
    ]
    assert forbidden_labels({}, {"node-restriction.kubernetes.io/a": "1"}) == [
        "node-restriction.kubernetes.io/a"
    ]  # removing one is modifying it
    assert forbidden_labels({"kubernetes.io/role": "m"}, {"kubernetes.io/role": "m"}) == []


def test_admission_plugins_are_named_and_not_both_enabled_and_disabled() -> None:
    assert enabled_plugins(["NodeRestriction"], []) == {"NodeRestriction"}
    assert enabled_plugins(["NodeRestriction"], ["PodSecurity"]) == {"NodeRestriction"}
    with pytest.raises(ValueError, match='enable-admission-plugins plugin "NodeRestrict" is unk'):
        enabled_plugins(["NodeRestrict"], [])
    with pytest.raises(ValueError, match=r"\[NodeRestriction\] in enable-admission-plugins and "):
        enabled_plugins(["NodeRestriction"], ["NodeRestriction"])


# -- leases, pods, CSRs ----------------------------------------------------------------------


def test_a_kubelet_renews_its_own_lease_only(api: LocalApi) -> None:
    kubelet = api.node_kubeconfig("nr-e")
    leases = "/apis/coordination.k8s.io/v1/namespaces/{}/leases"

    def lease(name: str) -> dict[str, Any]:
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": name}, "spec": {"holderIdentity": name}}  # fmt: skip

    call(api, "POST", leases.format("kube-node-lease"), 201, lease("nr-e"), client=kubelet)
    refused = call(
        api, "POST", leases.format("kube-node-lease"), 403, lease("nr-x"), client=kubelet
    )
    assert refused["message"] == (
        'leases.coordination.k8s.io "nr-x" is forbidden: can only access node lease with the '
        "same name as the requesting node"
    )
    refused = call(api, "POST", leases.format("default"), 403, lease("nr-e"), client=kubelet)
    assert 'can only access leases in the "kube-node-lease" system namespace' in refused["message"]


def test_a_kubelet_creates_only_mirror_pods_bound_to_itself(api: LocalApi) -> None:
    kubelet = api.node_kubeconfig("nr-f")
    uid = call(api, "POST", NODES, 201, node("nr-f"), client=kubelet)["metadata"]["uid"]
    pods = "/api/v1/namespaces/kube-system/pods"
    pod: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "etcd-nr-f", "annotations": {"kubernetes.io/config.mirror": "x"},
                     "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": "nr-f",
                                          "uid": uid, "controller": True}]},
        "spec": {"nodeName": "nr-f", "containers": [{"name": "etcd", "image": "etcd"}]},
    }  # fmt: skip
    call(api, "POST", pods, 201, pod, client=kubelet)
    plain = {**pod, "metadata": {"name": "plain"}}
    refused = call(api, "POST", pods, 403, plain, client=kubelet)
    assert refused["message"] == (
        'pods "plain" is forbidden: pod does not have "kubernetes.io/config.mirror" annotation, '
        'node "nr-f" can only create mirror pods'
    )
    elsewhere = json.loads(json.dumps(pod))
    elsewhere["metadata"]["name"], elsewhere["spec"]["nodeName"] = "other", "nr-a"
    refused = call(api, "POST", pods, 403, elsewhere, client=kubelet)
    assert (
        'node "nr-f" can only create pods with spec.nodeName set to itself' in (refused["message"])
    )
    call(api, "POST", pods, 201, elsewhere)  # as the administrator
    refused = call(api, "DELETE", f"{pods}/other", 403, client=kubelet)
    assert (
        'node "nr-f" can only delete pods with spec.nodeName set to itself' in (refused["message"])
    )
    call(api, "DELETE", f"{pods}/etcd-nr-f", 200, client=kubelet)


def test_a_kubelet_asks_for_certificates_in_its_own_name_only(api: LocalApi) -> None:
    kubelet = api.node_kubeconfig("nr-g")
    made = call(api, "POST", CSRS, 201, kubelet_csr("system:node:nr-g"), client=kubelet)
    # The API server records who asked (the CSR strategy), whatever the body said.
    assert made["spec"]["username"] == "system:node:nr-g"
    assert made["spec"]["groups"] == ["system:nodes", "system:authenticated"]
    refused = call(api, "POST", CSRS, 403, kubelet_csr("system:node:nr-a"), client=kubelet)
    assert refused["message"] == (
        'certificatesigningrequests.certificates.k8s.io "csr-" is forbidden: can only create a '
        "node CSR with CN=system:node:nr-g"
    )
    forged = kubelet_csr("system:node:nr-a")
    forged["spec"]["username"] = "system:node:nr-a"
    made = call(api, "POST", CSRS, 201, forged)  # an administrator may ask for anyone
    assert made["spec"]["username"] == "kubernetes-admin"


# -- access reviews ----------------------------------------------------------------------------


def review(user: str, groups: list[str], subresource: str) -> dict[str, Any]:
    return {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": user,
            "groups": groups,
            "resourceAttributes": {"group": "certificates.k8s.io", "verb": "create",
                                   "resource": "certificatesigningrequests",
                                   "subresource": subresource},
        },
    }  # fmt: skip


def test_subject_access_reviews_answer_with_the_authorizers(api: LocalApi) -> None:
    token_groups = ["system:bootstrappers", "system:bootstrappers:nr", "system:authenticated"]
    asked = review("system:bootstrap:abcdef", token_groups, "nodeclient")
    answered = call(api, "POST", REVIEWS, 201, asked)
    assert answered["status"] == {"allowed": False}
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "nr-autoapprove"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": "system:certificates.k8s.io:certificatesigningrequests:nodeclient"},
        "subjects": [{"kind": "Group", "name": "system:bootstrappers:nr"}],
    }  # fmt: skip
    call(api, "POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", 201, binding)
    assert call(api, "POST", REVIEWS, 201, asked)["status"] == {"allowed": True}
    other = review("system:bootstrap:abcdef", token_groups, "selfnodeclient")
    assert call(api, "POST", REVIEWS, 201, other)["status"] == {"allowed": False}
    nobody = review("", [], "nodeclient")
    refused = call(api, "POST", REVIEWS, 422, nobody)
    assert "spec.user: Invalid value" in refused["message"]
    assert "at least one of user or group must be specified" in refused["message"]
    call(api, "GET", REVIEWS, 405)
    # A kubelet may ask too (the Node authorizer's NodeRules).
    call(api, "POST", REVIEWS, 201, asked, client=api.node_kubeconfig("nr-h"))


def test_a_self_subject_access_review_asks_about_the_requester(api: LocalApi) -> None:
    # What ``kubectl auth can-i`` sends (kubectl sends it as protobuf, which the double refuses).
    own = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"verb": "delete", "resource": "secrets",
                                        "namespace": "kube-system"}},
    }  # fmt: skip
    reviews = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
    assert call(api, "POST", reviews, 201, own)["status"] == {"allowed": True}
    kubelet = api.node_kubeconfig("nr-h")
    assert call(api, "POST", reviews, 201, own, client=kubelet)["status"] == {"allowed": False}
