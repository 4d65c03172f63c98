"""Who is asking (client certificate from --client-ca-file, bootstrap token, or anonymous) and
what they may do.

Authorization is simplified (tests/doubles/README.md): an authenticated user with a client
certificate may do everything; a bootstrap token (``system:bootstrappers``) may only what
kubeadm's TLS bootstrap needs; anonymous requests reach only the public health and version paths
(and ``kube-public/cluster-info``), as the default ``system:public-info-viewer`` binding allows.
"""

from __future__ import annotations

import base64
import json
import re
import time
from dataclasses import dataclass
from typing import Any

from .etcd import EtcdClient

TOKEN = re.compile(r"^([a-z0-9]{6})\.([a-z0-9]{16})$")
PUBLIC_PATHS = ("/healthz", "/livez", "/readyz", "/version")


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...]

    @property
    def anonymous(self) -> bool:
        return self.name == "system:anonymous"


ANONYMOUS = User("system:anonymous", ("system:unauthenticated",))


def from_certificate(peer: dict[str, Any] | None) -> User | None:
    if not peer:
        return None
    name, groups = "", []
    for rdn in peer.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                name = value
            elif key == "organizationName":
                groups.append(value)
    if not name:
        return None
    return User(name, (*groups, "system:authenticated"))


def from_bootstrap_token(etcd: EtcdClient, header: str) -> User | None:
    """The user of a valid ``Bearer <id>.<secret>`` bootstrap token, else None."""
    match = TOKEN.match(header.removeprefix("Bearer ").strip())
    if not header.startswith("Bearer ") or match is None:
        return None
    token_id, token_secret = match.groups()
    kv = etcd.get(f"/registry/secrets/kube-system/bootstrap-token-{token_id}")
    if kv is None:
        return None
    secret = json.loads(kv.value)
    if secret.get("type") != "bootstrap.kubernetes.io/token":
        return None
    data = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
    if data.get("token-id") != token_id or data.get("token-secret") != token_secret:
        return None
    if data.get("usage-bootstrap-authentication") != "true":
        return None
    expiration = data.get("expiration")
    if expiration and time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()) > expiration:
        return None
    extra = [g for g in data.get("auth-extra-groups", "").split(",") if g]
    return User(
        f"system:bootstrap:{token_id}", ("system:bootstrappers", *extra, "system:authenticated")
    )


def is_public(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in PUBLIC_PATHS)


def allowed(user: User, verb: str, path: str, request: dict[str, str]) -> bool:
    """``request``: group, plural, namespace, name, subresource of a resource request."""
    if is_public(path):
        return True
    resource = (request.get("group", ""), request.get("plural", ""))
    if user.anonymous:
        return (
            verb == "get"
            and resource == ("", "configmaps")
            and request.get("namespace") == "kube-public"
            and request.get("name") == "cluster-info"
        )
    if "system:bootstrappers" in user.groups:
        if path in ("/api", "/apis") or path.startswith(("/api/v1?", "/apis/certificates")):
            return True
        if resource == ("certificates.k8s.io", "certificatesigningrequests"):
            return verb in ("create", "get", "list", "watch")
        if resource == ("", "configmaps"):
            return verb == "get" and request.get("namespace") in ("kube-public", "kube-system")
        if resource == ("", "nodes"):
            return verb == "get"
        return not request.get("plural") and path.startswith("/api")
    return True
