"""Bootstrap tokens as kubeadm keeps them: Secrets in kube-system, the JWS signature of
``cluster-info`` (the bootstrap signer's work in a real cluster), ``kubeadm token``."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
import string
from typing import Any

from ._core import ApiError, Client
from .common import CONF, TOKEN, KubeadmError, load_config, parse_duration, parse_flags
from .node import admin_client


def jws(kubeconfig: str, token_id: str, token_secret: str) -> str:
    """The detached JWS (HS256, key = the token secret) the bootstrap signer adds to
    cluster-info: ``header..signature``."""
    header = {"alg": "HS256", "kid": token_id}

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = (
        f"{b64(json.dumps(header, separators=(',', ':')).encode())}.{b64(kubeconfig.encode())}"
    )
    signature = hmac.new(token_secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input.split('.')[0]}..{b64(signature)}"


def verify_jws(detached: str, kubeconfig: str, token_id: str, token_secret: str) -> bool:
    return hmac.compare_digest(detached, jws(kubeconfig, token_id, token_secret))


def token_secret_object(token: dict[str, Any]) -> dict[str, Any]:
    match = TOKEN.match(token["token"])
    assert match is not None
    token_id, token_secret = match.groups()
    ttl = parse_duration(token.get("ttl", "24h0m0s"))
    data = {
        "token-id": token_id,
        "token-secret": token_secret,
        "description": token.get("description", ""),
        **{
            f"usage-bootstrap-{u}": "true"
            for u in token.get("usages", ["signing", "authentication"])
        },
        "auth-extra-groups": ",".join(
            token.get("groups", ["system:bootstrappers:kubeadm:default-node-token"])
        ),
    }
    if ttl > 0:
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=ttl)
        data["expiration"] = expires.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": f"bootstrap-token-{token_id}", "namespace": "kube-system"},
        "type": "bootstrap.kubernetes.io/token",
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }


def sign_cluster_info(client: Client, tokens: list[dict[str, Any]]) -> None:
    """Add each token's JWS to cluster-info (the bootstrap signer's work in a real cluster)."""
    path = "/api/v1/namespaces/kube-public/configmaps/cluster-info"
    current = client.get(path)
    for token in tokens:
        match = TOKEN.match(token["token"])
        if match and "signing" in token.get("usages", ["signing"]):
            token_id, token_secret = match.groups()
            current["data"][f"jws-kubeconfig-{token_id}"] = jws(
                current["data"]["kubeconfig"], token_id, token_secret
            )
    client.request("PUT", path, current)


def cmd_token(argv: list[str], version: str) -> None:
    if not argv:
        raise KubeadmError("token needs a subcommand: create, delete, list")
    sub, rest = argv[0], argv[1:]
    known = {
        "kubeconfig": True,
        "config": True,
        "v": True,
        "ttl": True,
        "print-join-command": False,
        "description": True,
        "usages": True,
        "groups": True,
        "dry-run": False,
        "o": True,
        "output": True,
    }
    positional = [a for a in rest if not a.startswith("-")]
    flags = parse_flags([a for a in rest if a.startswith("-")], known)
    client = admin_client(flags.get("kubeconfig", f"{CONF}/admin.conf"))
    secrets_path = "/api/v1/namespaces/kube-system/secrets"
    if sub == "create":
        tokens: list[dict[str, Any]] = []
        if "config" in flags:
            tokens = (
                load_config(flags["config"], {"InitConfiguration", "ClusterConfiguration"}, version)
                .get("InitConfiguration", {})
                .get("bootstrapTokens")
                or []
            )
        if positional:
            tokens = [{**(tokens[0] if tokens else {}), "token": positional[0]}]
        if not tokens:
            alphabet = string.ascii_lowercase + string.digits
            tokens = [
                {
                    "token": "".join(secrets.choice(alphabet) for _ in range(6))
                    + "."
                    + "".join(secrets.choice(alphabet) for _ in range(16))
                }
            ]
        token = tokens[0]
        if "ttl" in flags:
            token["ttl"] = flags["ttl"]
        document = token_secret_object(token)
        try:
            client.request("POST", secrets_path, document)
        except ApiError as error:
            if error.status == 409:
                token_id = document["metadata"]["name"].removeprefix("bootstrap-token-")
                raise KubeadmError(f"a token with id {token_id!r} already exists") from None
            raise KubeadmError(f"failed to create the bootstrap token: {error}") from None
        sign_cluster_info(client, [token])
        print(token["token"])
    elif sub == "delete":
        if not positional:
            raise KubeadmError(
                "missing subcommand; 'token delete' is missing token of form '[a-z0-9]{6}'"
            )
        for value in positional:
            token_id = value.split(".")[0]
            try:
                client.request("DELETE", f"{secrets_path}/bootstrap-token-{token_id}")
            except ApiError as error:
                raise KubeadmError(
                    f"failed to delete bootstrap token {token_id!r}: {error}"
                ) from None
            print(f'bootstrap token "{token_id}" deleted')
    elif sub == "list":
        found = client.get(f"{secrets_path}?fieldSelector=type%3Dbootstrap.kubernetes.io%2Ftoken")
        print("TOKEN                     TTL         EXPIRES                USAGES")
        for item in found.get("items", []):
            data = {k: base64.b64decode(v).decode() for k, v in item.get("data", {}).items()}
            expires = data.get("expiration", "<forever>")
            print(f"{data.get('token-id')}.{data.get('token-secret')}   {expires}")
    else:
        raise KubeadmError(f'unknown command "{sub}" for "kubeadm token"')
