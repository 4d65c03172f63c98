"""The controller-manager doubles' certificate controllers (``doubles_core.csr``) against the
API-server double on loopback: a kubelet client CSR is approved only after a
SubjectAccessReview allows its requester ``nodeclient`` (a bootstrap token) or
``selfnodeclient`` (a node renewing), as upstream's csrapproving controller; serving
certificates and other requests stay pending; what is approved is signed by the cluster CA."""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.doubles.doubles_core import csr as controllers
from tests.doubles.doubles_core.api import Client, from_kubeconfig
from tests.doubles.local_api import LocalApi, kubelet_csr, local_api

TOKEN_ID, TOKEN_SECRET = "csrtok", "0123456789abcdef"
TOKEN_GROUP = "system:bootstrappers:csr-test"
ROLE = "system:certificates.k8s.io:certificatesigningrequests:{}"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalApi]:
    with local_api(tmp_path_factory.mktemp("csr")) as started:
        admin = from_kubeconfig(started.kubeconfig())
        data = {
            "token-id": TOKEN_ID,
            "token-secret": TOKEN_SECRET,
            "usage-bootstrap-authentication": "true",
            "auth-extra-groups": TOKEN_GROUP,
        }
        admin.put_object(
            "/api/v1/namespaces/kube-system/secrets",
            {"apiVersion": "v1", "kind": "Secret", "type": "bootstrap.kubernetes.io/token",
             "metadata": {"name": f"bootstrap-token-{TOKEN_ID}", "namespace": "kube-system"},
             "stringData": data},
        )  # fmt: skip
        bind(started, "csr-test-bootstrapper", "system:node-bootstrapper", TOKEN_GROUP)
        yield started


def bind(api: LocalApi, name: str, role: str, group: str) -> None:
    from_kubeconfig(api.kubeconfig()).put_object(
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": name},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
         "subjects": [{"kind": "Group", "name": group}]},
    )  # fmt: skip


def signing(api: LocalApi) -> tuple[Any, Any]:
    ca = x509.load_pem_x509_certificate((api.pki / "ca.crt").read_bytes())
    key = serialization.load_pem_private_key((api.pki / "ca.key").read_bytes(), password=None)
    return ca, key


def run_controllers(api: LocalApi) -> list[str]:
    """One pass of the certificate controllers as the controller-manager."""
    manager = from_kubeconfig(api.kubeconfig("controller-manager.conf"))
    return controllers.approve_and_sign(manager, *signing(api))


def stored(api: LocalApi, name: str) -> dict[str, Any]:
    document: dict[str, Any] = from_kubeconfig(api.kubeconfig()).get(f"{controllers.CSRS}/{name}")
    return document


def conditions(document: dict[str, Any]) -> dict[str, str]:
    return {c["type"]: c["message"] for c in (document.get("status") or {}).get("conditions", [])}


def test_a_bootstrap_tokens_csr_waits_for_the_nodeclient_binding(api: LocalApi) -> None:
    token = Client(api.url, (api.pki / "ca.crt").read_bytes(), token=f"{TOKEN_ID}.{TOKEN_SECRET}")
    made = token.request("POST", controllers.CSRS, kubelet_csr("system:node:new-node"))
    name = made["metadata"]["name"]
    assert name not in run_controllers(api)
    assert conditions(stored(api, name)) == {}  # recognized, but the review said no
    # kubeadm's kubeadm:node-autoapprove-bootstrap (binary mode makes the same binding).
    bind(api, "csr-test-autoapprove", ROLE.format("nodeclient"), TOKEN_GROUP)
    assert name in run_controllers(api)
    document = stored(api, name)
    assert conditions(document) == {
        "Approved": "Auto approving kubelet client certificate after SubjectAccessReview."
    }
    cert = x509.load_pem_x509_certificate(base64.b64decode(document["status"]["certificate"]))
    assert cert.subject.rfc4514_string() == "CN=system:node:new-node,O=system:nodes"
    ca, _ = signing(api)
    assert cert.issuer == ca.subject


def test_a_nodes_renewal_needs_selfnodeclient(api: LocalApi) -> None:
    kubelet = from_kubeconfig(api.kubeconfig(api.node_kubeconfig("renewing")))
    made = kubelet.request("POST", controllers.CSRS, kubelet_csr("system:node:renewing"))
    name = made["metadata"]["name"]
    assert name not in run_controllers(api)
    assert conditions(stored(api, name)) == {}
    # kubeadm's kubeadm:node-autoapprove-certificate-rotation (binary mode makes it too).
    bind(api, "csr-test-rotation", ROLE.format("selfnodeclient"), "system:nodes")
    assert name in run_controllers(api)
    assert conditions(stored(api, name)) == {
        "Approved": "Auto approving self kubelet client certificate after SubjectAccessReview."
    }


def test_serving_and_malformed_requests_are_left_pending(api: LocalApi) -> None:
    admin = from_kubeconfig(api.kubeconfig())
    serving = kubelet_csr("system:node:serving")
    serving["spec"].update(
        signerName="kubernetes.io/kubelet-serving",
        usages=["digital signature", "server auth"],
    )
    wrong_usage = copy.deepcopy(kubelet_csr("system:node:serving"))
    wrong_usage["spec"]["usages"] = ["digital signature", "server auth"]
    names = [admin.request("POST", controllers.CSRS, body)["metadata"]["name"]
             for body in (serving, wrong_usage)]  # fmt: skip
    # system:masters may do everything: still no auto-approval for what is no client request.
    run_controllers(api)
    for name in names:
        assert conditions(stored(api, name)) == {}
        assert "certificate" not in (stored(api, name).get("status") or {})
    assert "usages did not match" in str(controllers.kubelet_client_problem(stored(api, names[1])))


def test_what_someone_approved_is_signed(api: LocalApi) -> None:
    admin = from_kubeconfig(api.kubeconfig())
    document = admin.request("POST", controllers.CSRS, kubelet_csr("system:node:by-hand"))
    approved = {"type": "Approved", "status": "True", "reason": "ByHand", "message": "ok"}
    document["status"] = {"conditions": [approved]}
    name = document["metadata"]["name"]
    admin.request("PUT", f"{controllers.CSRS}/{name}/approval", document)
    assert name in run_controllers(api)
    assert conditions(stored(api, name)) == {"Approved": "ok"}
    assert stored(api, name)["status"]["certificate"]
