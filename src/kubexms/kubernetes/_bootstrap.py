"""What a joining node is given: a bootstrap token kubexms makes, and the CA's public-key pin."""

from __future__ import annotations

import hashlib
import re
import secrets
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from kubexms._errors import KubexmsError
from kubexms.pki._store import write_atomic  # the PKI's 0600 atomic write, for one more secret

if TYPE_CHECKING:
    from kubexms.config import Cluster

_ALPHABET = string.ascii_lowercase + string.digits
TOKEN_PATTERN = re.compile(r"[a-z0-9]{6}\.[a-z0-9]{16}")


@dataclass(frozen=True, slots=True)
class BootstrapToken:
    """A kubeadm bootstrap token ``<id>.<secret>``: the id is public (it names the Secret in
    kube-system), the secret part is never shown (repr hides it)."""

    token_id: str
    token_secret: str = field(repr=False)

    @classmethod
    def generate(cls) -> BootstrapToken:
        """A new token from the system's CSPRNG (kubeadm's alphabet and lengths)."""
        return cls(
            "".join(secrets.choice(_ALPHABET) for _ in range(6)),
            "".join(secrets.choice(_ALPHABET) for _ in range(16)),
        )

    @classmethod
    def parse(cls, text: str) -> BootstrapToken:
        """A token read back (from the work dir); ValueError naming no part of it if malformed."""
        if not TOKEN_PATTERN.fullmatch(text.strip()):
            raise ValueError("not a bootstrap token ([a-z0-9]{6}.[a-z0-9]{16})")
        token_id, _, token_secret = text.strip().partition(".")
        return cls(token_id, token_secret)

    @property
    def value(self) -> str:
        """The whole token: for the kubeadm config file only (0600), never a log or argv."""
        return f"{self.token_id}.{self.token_secret}"


def ca_cert_hash(ca_pem: bytes) -> str:
    """kubeadm's ``caCertHashes`` entry: ``sha256:`` and the hex SHA-256 of the CA
    certificate's DER-encoded SubjectPublicKeyInfo."""
    certificate = x509.load_pem_x509_certificate(ca_pem)
    spki = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "sha256:" + hashlib.sha256(spki).hexdigest()


class BootstrapTokenError(ValueError, KubexmsError):
    """The stored bootstrap token cannot be read or is not one."""


def bootstrap_token_path(cluster: Cluster) -> Path:
    """``<workDir>/kubernetes/bootstrap-token``: the cluster's join token on this machine."""
    return cluster.work_dir / "kubernetes" / "bootstrap-token"


def stored_bootstrap_token(path: Path) -> BootstrapToken:
    """The token kept in ``path``, made (0600, atomically, in a 0700 directory) on first use,
    so that a rerun or a resumed run renders the same join configurations."""
    try:
        return BootstrapToken.parse(path.read_text())
    except FileNotFoundError:
        token = BootstrapToken.generate()
        write_atomic(path, (token.value + "\n").encode(), 0o600)
        return token
    except (OSError, ValueError) as error:
        reason = error.strerror if isinstance(error, OSError) else str(error)
        raise BootstrapTokenError(
            f"{path}: {reason}; remove it to have kubexms make a new token"
        ) from None
