"""SubjectAccessReview and SelfSubjectAccessReview (``authorization.k8s.io/v1``): answered by
the same authorizers that guard every request (``rbac.Authorizer``), never stored.

A controller asks whether someone else may do something (the csrapproving controller asks
whether a CSR's requester may ``create certificatesigningrequests/nodeclient``); ``kubectl auth
can-i`` asks for itself. ``status.allowed`` is the decision; ``reason`` is not filled in.
"""

from __future__ import annotations

from typing import Any

from .auth import User
from .errors import ApiError, invalid
from .rbac import Authorizer
from .resources import Resource

Json = dict[str, Any]


def _checked_spec(kind: str, body: Any, self_review: bool) -> Json:
    """The review's spec, refused as upstream's validation refuses it."""
    if not isinstance(body, dict) or not isinstance(body.get("spec"), dict):
        raise ApiError(400, "BadRequest", f"a {kind} needs a spec")
    spec: Json = body["spec"]
    causes = []
    resource, non_resource = spec.get("resourceAttributes"), spec.get("nonResourceAttributes")
    if resource is not None and non_resource is not None:
        causes.append(
            f"spec.nonResourceAttributes: Invalid value: {non_resource}: cannot be specified "
            "in combination with resourceAttributes"
        )
    if resource is None and non_resource is None:
        causes.append(
            "spec.resourceAttributes: Invalid value: null: exactly one of "
            "nonResourceAttributes or resourceAttributes must be specified"
        )
    if not self_review and not spec.get("user") and not spec.get("groups"):
        causes.append(
            'spec.user: Invalid value: "": at least one of user or group must be specified'
        )
    if causes:
        raise invalid(kind, "", causes)
    return spec


def review(authorizer: Authorizer, requester: User, resource: Resource, body: Any) -> Json:
    """The review ``body`` with its ``status`` (a ``SelfSubjectAccessReview`` asks about
    ``requester``)."""
    self_review = resource.kind == "SelfSubjectAccessReview"
    spec = _checked_spec(resource.kind, body, self_review)
    user = (
        requester
        if self_review
        else User(str(spec.get("user") or ""), tuple(str(g) for g in spec.get("groups") or []))
    )
    if spec.get("resourceAttributes") is not None:
        attributes = spec["resourceAttributes"]
        verb, path = str(attributes.get("verb") or ""), ""
        request = {
            "group": str(attributes.get("group") or ""),
            "plural": str(attributes.get("resource") or ""),
            "namespace": str(attributes.get("namespace") or ""),
            "name": str(attributes.get("name") or ""),
            "subresource": str(attributes.get("subresource") or ""),
        }
    else:
        attributes = spec["nonResourceAttributes"]
        verb, path, request = str(attributes.get("verb") or ""), str(attributes.get("path")), {}
    allowed = authorizer.decide(user, verb, path, request) is None
    return {
        "kind": resource.kind,
        "apiVersion": resource.group_version,
        "metadata": {"creationTimestamp": None},
        "spec": spec,
        "status": {"allowed": allowed},
    }
