"""Encryption at rest for Secrets: the API server's EncryptionConfiguration.

The key is made on the control machine (32 bytes from the system's CSPRNG, AES-CBC as
upstream's ``aescbc`` provider wants) and kept in ``<workDir>/kubernetes/encryption-config.yaml``
(0600, in a 0700 directory), so every master gets the same file and a rerun the same key. The
file travels to the masters like a private key of the cluster PKI (PlacePKIFiles, 0600): its
contents are never a step parameter, a log line, a plan entry or a command-line argument.
``identity`` comes last so the API server still reads Secrets written before encryption was on.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from kubexms._errors import KubexmsError
from kubexms.engine import Step
from kubexms.pki._store import write_atomic  # the PKI's 0600 atomic write, for one more secret
from kubexms.runner import Change
from kubexms.runtime import Context

if TYPE_CHECKING:
    from kubexms.config import Cluster

ENCRYPTION_API = "apiserver.config.k8s.io/v1"
KEY_NAME = "kubexms-1"
KEY_BYTES = 32
STORED_NAME = "encryption-config.yaml"


class EncryptionConfigError(KubexmsError):
    """The stored encryption configuration cannot be read or is not one kubexms wrote."""


def encryption_directory(cluster: Cluster) -> Path:
    """``<workDir>/kubernetes``: where the encryption configuration is kept on this machine."""
    return cluster.work_dir / "kubernetes"


def encryption_config(key: bytes) -> dict[str, Any]:
    """The EncryptionConfiguration that encrypts Secrets with ``key`` (aescbc)."""
    if len(key) != KEY_BYTES:
        raise ValueError(f"an aescbc key has {KEY_BYTES} bytes")
    secret = base64.b64encode(key).decode("ascii")
    return {
        "apiVersion": ENCRYPTION_API,
        "kind": "EncryptionConfiguration",
        "resources": [
            {
                "resources": ["secrets"],
                "providers": [
                    {"aescbc": {"keys": [{"name": KEY_NAME, "secret": secret}]}},
                    {"identity": {}},
                ],
            }
        ],
    }


def _check(path: Path, data: bytes) -> None:
    try:
        document = yaml.safe_load(data)
        provider = document["resources"][0]["providers"][0]["aescbc"]["keys"][0]
        key = base64.b64decode(provider["secret"], validate=True)
    except (yaml.YAMLError, KeyError, IndexError, TypeError, ValueError):
        raise EncryptionConfigError(
            f"{path} is not an encryption configuration kubexms wrote; move it away to have "
            "kubexms make a new one (Secrets already encrypted with the old key then need it)"
        ) from None
    if document.get("kind") != "EncryptionConfiguration" or len(key) != KEY_BYTES:
        raise EncryptionConfigError(f"{path} does not hold a {KEY_BYTES}-byte aescbc key")


def ensure_encryption_config(cluster: Cluster) -> bool:
    """Make the stored configuration when it is missing (True: made now). An existing one is
    kept, and checked: a cluster's key never changes behind its back."""
    path = encryption_directory(cluster) / STORED_NAME
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        document = encryption_config(secrets.token_bytes(KEY_BYTES))
        write_atomic(path, yaml.safe_dump(document, sort_keys=False).encode(), 0o600)
        return True
    except OSError as error:
        raise EncryptionConfigError(f"{path}: {error.strerror}") from None
    _check(path, data)
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    return False


@dataclass(frozen=True)
class EncryptionKey(Step):
    """The cluster's encryption-at-rest key on this machine (made once, then kept)."""

    name: str = "encryption-key"

    description = "the key that encrypts Secrets at rest (made once on this machine, 0600)"

    async def precheck(self, ctx: Context) -> Change:
        path = encryption_directory(ctx.cluster.config) / STORED_NAME
        exists = await asyncio.to_thread(path.exists)
        return Change(not exists, "encryption key", "" if exists else f"make {path}")

    async def run(self, ctx: Context) -> Change:
        made = await asyncio.to_thread(ensure_encryption_config, ctx.cluster.config)
        return Change(made, "encryption key", "made" if made else "")
