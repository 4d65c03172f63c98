"""The controller-manager's certificate controllers, as the controller-manager doubles run them
(kubeadm mode's stand-in and binary mode's double), with upstream's rules.

``csrapproving`` (pkg/controller/certificates/approver/sarapprove.go) approves a CSR only when
it is a kubelet *client* certificate request (signer
``kubernetes.io/kube-apiserver-client-kubelet``, subject ``O=system:nodes``,
``CN=system:node:<name>``, no SANs, usages ``digital signature`` + ``client auth`` with or
without ``key encipherment``) and a SubjectAccessReview of the CSR's requester
(``spec.username``/``groups``, which the API server filled in) allows ``create`` on
``certificatesigningrequests/selfnodeclient`` (the requester is the node itself: renewal) or
``certificatesigningrequests/nodeclient`` (a new node: the bootstrap token) in group
``certificates.k8s.io``. Anything else (serving certificates included) it leaves pending for
someone else to approve. ``csrsigning`` then signs what is approved (by anyone) for the
kubelet client signer with ``--cluster-signing-cert-file``/``--cluster-signing-key-file``.
The approval goes through the CSR's ``/approval``, the certificate through its ``/status``.
"""

from __future__ import annotations

import base64
import datetime as dt
import sys
from typing import Any

from .api import ApiError, Client

CSRS = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
REVIEWS = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
KUBELET_CLIENT_SIGNER = "kubernetes.io/kube-apiserver-client-kubelet"
CLIENT_USAGES = (
    {"digital signature", "key encipherment", "client auth"},
    {"digital signature", "client auth"},
)
# (subresource, the approval message), in upstream's order: a renewal first.
RECOGNIZERS = (
    ("selfnodeclient", "Auto approving self kubelet client certificate after SubjectAccessReview."),
    ("nodeclient", "Auto approving kubelet client certificate after SubjectAccessReview."),
)


def _conditions(csr: dict[str, Any]) -> set[str]:
    return {
        str(c.get("type"))
        for c in (csr.get("status") or {}).get("conditions") or []
        if c.get("status", "True") == "True"
    }


def kubelet_client_problem(csr: dict[str, Any]) -> str | None:
    """Why ``csr`` is not a kubelet client certificate request (``ValidateKubeletClientCSR``),
    or None when it is one."""
    from cryptography import x509  # Debian's python3-cryptography
    from cryptography.x509.oid import NameOID

    spec = csr.get("spec") or {}
    if spec.get("signerName") != KUBELET_CLIENT_SIGNER:
        return f"signer is not {KUBELET_CLIENT_SIGNER}"
    try:
        request = x509.load_pem_x509_csr(base64.b64decode(str(spec.get("request") or "")))
    except ValueError as error:
        return f"unable to parse csr: {error}"
    organizations = [
        a.value for a in request.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    ]
    if organizations != ["system:nodes"]:
        return "subject organization is not system:nodes"
    try:
        sans = request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        sans = None
    if sans is not None and len(list(sans)) > 0:
        return "DNS, email, IP or URI subjectAltNames are not allowed"
    names = request.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not names or not str(names[0].value).startswith("system:node:"):
        return 'subject common name does not begin with "system:node:"'
    if set(spec.get("usages") or []) not in CLIENT_USAGES:
        return "usages did not match [client auth digital signature key encipherment]"
    return None


def _common_name(csr: dict[str, Any]) -> str:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    request = x509.load_pem_x509_csr(base64.b64decode(csr["spec"]["request"]))
    names = request.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


def may_create(client: Client, csr: dict[str, Any], subresource: str) -> bool:
    """A SubjectAccessReview: may the CSR's requester ``create
    certificatesigningrequests/<subresource>``?"""
    spec = csr.get("spec") or {}
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": spec.get("username") or "",
            "groups": spec.get("groups") or [],
            **({"uid": spec["uid"]} if spec.get("uid") else {}),
            **({"extra": spec["extra"]} if spec.get("extra") else {}),
            "resourceAttributes": {
                "group": "certificates.k8s.io",
                "resource": "certificatesigningrequests",
                "verb": "create",
                "subresource": subresource,
                "version": "*",
            },
        },
    }
    answer = client.request("POST", REVIEWS, review)
    return bool((answer.get("status") or {}).get("allowed"))


def approval(csr: dict[str, Any], client: Client) -> str | None:
    """The approval message for a pending ``csr`` (``sarApprover.handle``), or None to leave
    it pending."""
    if (csr.get("status") or {}).get("certificate") or _conditions(csr) & {"Approved", "Denied"}:
        return None
    if kubelet_client_problem(csr) is not None:
        return None
    self_request = (csr.get("spec") or {}).get("username") == _common_name(csr)
    tried = []
    for subresource, message in RECOGNIZERS:
        if subresource == "selfnodeclient" and not self_request:
            continue
        tried.append(subresource)
        if may_create(client, csr, subresource):
            return message
    name = (csr.get("metadata") or {}).get("name")
    print(
        f"recognized csr {name!r} as {tried} but subject access review was not approved",
        file=sys.stderr,
        flush=True,
    )
    return None


def certificate(csr: dict[str, Any], ca: Any, ca_key: Any) -> bytes:
    """The kubelet client certificate for an approved ``csr``, signed by ``ca``: PEM."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import ExtendedKeyUsageOID

    request = x509.load_pem_x509_csr(base64.b64decode(csr["spec"]["request"]))
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(request.subject)
        .issuer_name(ca.subject)
        .public_key(request.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def approve_and_sign(client: Client, ca: Any, ca_key: Any) -> list[str]:
    """One pass of both controllers over the CSRs; the names of those signed."""
    signed = []
    for csr in client.get(CSRS).get("items", []):
        name = csr["metadata"]["name"]
        try:
            message = approval(csr, client)
            if message is not None:
                condition = {
                    "type": "Approved",
                    "status": "True",
                    "reason": "AutoApproved",
                    "message": message,
                    "lastUpdateTime": f"{dt.datetime.now(dt.UTC):%Y-%m-%dT%H:%M:%SZ}",
                }
                csr.setdefault("status", {})["conditions"] = [
                    *((csr.get("status") or {}).get("conditions") or []),
                    condition,
                ]
                csr = client.request("PUT", f"{CSRS}/{name}/approval", csr)
            conditions = _conditions(csr)
            if (
                "Approved" not in conditions
                or conditions & {"Denied", "Failed"}
                or (csr.get("status") or {}).get("certificate")
                or kubelet_client_problem(csr) is not None
            ):
                continue
            csr["status"]["certificate"] = base64.b64encode(certificate(csr, ca, ca_key)).decode()
            client.request("PUT", f"{CSRS}/{name}/status", csr)
            signed.append(name)
        except ApiError as error:
            if error.status != 409:  # another controller-manager got there first
                raise
    return signed
