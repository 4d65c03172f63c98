"""Who is asking: a client certificate from --client-ca-file, a bootstrap token, or anonymous.
What they may do is ``rbac``'s (``--authorization-mode``)."""

from __future__ import annotations

import base64
import json
import re
import time
from dataclasses import dataclass
from typing import Any

from .etcd import EtcdClient

TOKEN = re.compile(r"^([a-z0-9]{6})\.([a-z0-9]{16})$")


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
