"""The distribution registry's files: its unit, config.yml and htpasswd."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import bcrypt
import yaml

CONFIG_DIR = "/etc/kubexms-registry"
CONFIG_FILE = f"{CONFIG_DIR}/config.yml"
HTPASSWD = f"{CONFIG_DIR}/htpasswd"
TLS_CERT = f"{CONFIG_DIR}/server.crt"
TLS_KEY = f"{CONFIG_DIR}/server.key"
DATA_DIR = "/var/lib/kubexms-registry"
BINARY = "/usr/local/bin/registry"
UNIT_NAME = "kubexms-registry.service"
_BCRYPT_ALPHABET = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_COST = 10

UNIT = f"""[Unit]
Description=kubexms image registry (CNCF distribution)
After=network-online.target
Wants=network-online.target

[Service]
ExecStart={BINARY} serve {CONFIG_FILE}
Restart=always
RestartSec=5
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
"""


def render_config(port: int, with_auth: bool) -> str:
    """config.yml: TLS on ``port``, storage in the data dir (deletes off), htpasswd logins."""
    document: dict[str, object] = {
        "version": 0.1,
        "log": {"level": "info", "fields": {"service": "registry"}},
        "storage": {
            "filesystem": {"rootdirectory": DATA_DIR},
            "delete": {"enabled": False},
        },
        "http": {
            "addr": f":{port}",
            "tls": {"certificate": TLS_CERT, "key": TLS_KEY},
            "headers": {"X-Content-Type-Options": ["nosniff"]},
        },
        "health": {"storagedriver": {"enabled": True, "interval": "10s", "threshold": 3}},
    }
    if with_auth:
        document["auth"] = {"htpasswd": {"realm": "kubexms-registry", "path": HTPASSWD}}
    return "# Written by kubexms.\n" + yaml.safe_dump(document, sort_keys=False)


def _salt(seed: bytes) -> bytes:
    # 22 characters of bcrypt's base64: 16 bytes of salt (the last character's low bits unused).
    digest = hashlib.sha256(seed).digest()
    return b"$2b$%02d$" % _COST + bytes(_BCRYPT_ALPHABET[b % 64] for b in digest[:21]) + b"."


def render_htpasswd(cluster: str, logins: Mapping[str, str]) -> str:
    """``user:bcrypt`` lines (the only hash the registry reads). The salt is derived from the
    cluster, user and password, so an unchanged login renders the same line and a rerun
    rewrites nothing (a random salt would restart the registry on every run)."""
    lines = []
    for user, password in sorted(logins.items()):
        seed = b"\0".join([b"kubexms-registry", cluster.encode(), user.encode(), password.encode()])
        hashed = bcrypt.hashpw(password.encode(), _salt(seed)).decode()
        lines.append(f"{user}:{hashed}\n")
    return "".join(lines)
