"""Kubeconfig files with the CA and the client certificate and key embedded."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from kubexms.pki._catalog import KubeconfigSpec
from kubexms.pki._keys import PrivateKey, private_key_pem


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def render_kubeconfig(
    spec: KubeconfigSpec, ca: x509.Certificate, cert: x509.Certificate, key: PrivateKey
) -> bytes:
    """The kubeconfig for ``spec`` (cluster, user and context named as kubeadm names them)."""
    pem = serialization.Encoding.PEM
    document: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": spec.cluster_name,
                "cluster": {
                    "certificate-authority-data": _b64(ca.public_bytes(pem)),
                    "server": spec.server,
                },
            }
        ],
        "contexts": [
            {"name": spec.context, "context": {"cluster": spec.cluster_name, "user": spec.user}}
        ],
        "current-context": spec.context,
        "preferences": {},
        "users": [
            {
                "name": spec.user,
                "user": {
                    "client-certificate-data": _b64(cert.public_bytes(pem)),
                    "client-key-data": _b64(private_key_pem(key)),
                },
            }
        ],
    }
    return yaml.safe_dump(document, sort_keys=False).encode()


@dataclass(frozen=True)
class KubeconfigContents:
    """What a kubeconfig's current context points at: server, CA and client credentials."""

    server: str
    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes


def _entry(items: Any, name: str, kind: str) -> dict[str, Any]:
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and item.get("name") == name and isinstance(item.get(kind), dict):
            entry: dict[str, Any] = item[kind]
            return entry
    raise ValueError(f"no {kind} named {name!r}")


def _data(entry: dict[str, Any], field: str) -> bytes:
    value = entry.get(field)
    if not isinstance(value, str):
        raise ValueError(f"no {field}")
    try:
        return base64.b64decode(value, validate=True)
    except binascii.Error:
        raise ValueError(f"{field} is not base64") from None


def parse_kubeconfig(data: bytes) -> KubeconfigContents:
    """The current context's server, CA and client certificate and key (all embedded).

    ValueError naming what is missing when the file is not such a kubeconfig.
    """
    try:
        document = yaml.safe_load(data)
    except yaml.YAMLError as error:
        raise ValueError(f"not YAML: {error}") from None
    if not isinstance(document, dict):
        raise ValueError("not a kubeconfig")
    current = document.get("current-context")
    if not isinstance(current, str) or not current:
        raise ValueError("no current-context")
    context = _entry(document.get("contexts"), current, "context")
    cluster = _entry(document.get("clusters"), str(context.get("cluster")), "cluster")
    user = _entry(document.get("users"), str(context.get("user")), "user")
    server = cluster.get("server")
    if not isinstance(server, str):
        raise ValueError("no server")
    return KubeconfigContents(
        server=server,
        ca_pem=_data(cluster, "certificate-authority-data"),
        cert_pem=_data(user, "client-certificate-data"),
        key_pem=_data(user, "client-key-data"),
    )
