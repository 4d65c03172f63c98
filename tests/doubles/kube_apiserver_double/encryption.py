"""Encryption at rest from ``--encryption-provider-config``, as the real apiserver does it.

The EncryptionConfiguration (``apiserver.config.k8s.io/v1``) is read strictly: unknown fields,
a provider that is not exactly one of ``aescbc``/``aesgcm``/``secretbox``/``identity``/``kms``,
keys that are not base64 of a valid length, or no providers are refused at start (exit 1), as
the real binary refuses them. Values of the listed resources are written with the FIRST
provider, in upstream's format ``k8s:enc:<provider>:v1:<key name>:<nonce><ciphertext>`` (aescbc:
16-byte IV + AES-CBC with PKCS#7 padding; aesgcm: 12-byte nonce + AES-GCM), so ``etcdctl get``
shows ciphertext; reads try every provider by its prefix, and ``identity`` reads plain values.
Not implemented by the double (refused with a message saying so): ``secretbox`` and ``kms``
writes. The encrypted payload is the double's JSON, not upstream's protobuf.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .resources import BUILTIN

API_VERSION = "apiserver.config.k8s.io/v1"
KINDS = ("aescbc", "aesgcm", "secretbox", "identity", "kms")
KEY_SIZES = {"aescbc": (16, 24, 32), "aesgcm": (16, 24, 32), "secretbox": (32,)}


class EncryptionConfigError(Exception):
    """The file is one the real apiserver refuses (or the double cannot honour)."""


class DecryptError(Exception):
    """A stored value matches no configured provider."""


@dataclass(frozen=True)
class Provider:
    kind: str
    keys: tuple[tuple[str, bytes], ...]  # (name, secret)

    def prefix(self, name: str) -> bytes:
        return f"k8s:enc:{self.kind}:v1:{name}:".encode()


def _unknown(where: str, document: dict[str, Any], known: set[str]) -> None:
    extra = sorted(set(document) - known)
    if extra:
        raise EncryptionConfigError(f'{where}: unknown field "{extra[0]}"')


def _provider(where: str, item: Any) -> Provider:
    if not isinstance(item, dict) or len(item) != 1 or next(iter(item)) not in KINDS:
        raise EncryptionConfigError(
            f"{where}: a provider must have exactly one of {', '.join(KINDS)}"
        )
    kind, settings = next(iter(item.items()))
    if kind == "identity":
        if settings not in ({}, None):
            raise EncryptionConfigError(f"{where}.identity: takes no settings")
        return Provider(kind, ())
    if kind == "kms":
        raise EncryptionConfigError(f"{where}.kms: KMS providers are not implemented by the double")
    if not isinstance(settings, dict):
        raise EncryptionConfigError(f"{where}.{kind}: must be an object with keys")
    _unknown(f"{where}.{kind}", settings, {"keys"})
    keys = []
    for index, key in enumerate(settings.get("keys") or []):
        at = f"{where}.{kind}.keys[{index}]"
        if not isinstance(key, dict):
            raise EncryptionConfigError(f"{at}: must be an object with name and secret")
        _unknown(at, key, {"name", "secret"})
        if not key.get("name"):
            raise EncryptionConfigError(f"{at}.name: Required value")
        try:
            secret = base64.b64decode(str(key.get("secret", "")), validate=True)
        except binascii.Error:
            raise EncryptionConfigError(f"{at}.secret: Invalid value: not base64") from None
        if len(secret) not in KEY_SIZES[kind]:
            raise EncryptionConfigError(
                f"{at}.secret: Invalid value: {kind} keys are "
                f"{' or '.join(map(str, KEY_SIZES[kind]))} bytes, this one {len(secret)}"
            )
        keys.append((str(key["name"]), secret))
    if not keys:
        raise EncryptionConfigError(f"{where}.{kind}.keys: Required value")
    return Provider(kind, tuple(keys))


def _prefixes(resource: str) -> list[str]:
    """etcd key prefixes of a resource entry (``secrets``, ``deployments.apps``, ``*.``,
    ``*.*``)."""
    if resource == "*.*":
        return ["/registry/"]
    name, _, group = resource.partition(".")
    return [
        r.storage_prefix()
        for r in BUILTIN
        if (name == "*" or r.plural == name) and r.group == group
    ]


class Transformer:
    """Encrypts values written under the configured resources and decrypts what it reads."""

    def __init__(self, rules: list[tuple[list[str], list[Provider]]]) -> None:
        self.rules = rules

    @classmethod
    def identity(cls) -> Transformer:
        return cls([])

    @classmethod
    def from_file(cls, path: Path) -> Transformer:
        import yaml  # Debian's python3-yaml: only needed when encryption is configured

        try:
            document = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as error:
            raise EncryptionConfigError(f"error while parsing file: {error}") from None
        if not isinstance(document, dict):
            raise EncryptionConfigError("error while parsing file: not an object")
        _unknown("", document, {"apiVersion", "kind", "resources"})
        if document.get("apiVersion") != API_VERSION or document.get("kind") != (
            "EncryptionConfiguration"
        ):
            raise EncryptionConfigError(
                f"error while parsing file: not an EncryptionConfiguration of {API_VERSION}"
            )
        rules = []
        for index, entry in enumerate(document.get("resources") or []):
            where = f"resources[{index}]"
            if not isinstance(entry, dict):
                raise EncryptionConfigError(f"{where}: must be an object")
            _unknown(where, entry, {"resources", "providers"})
            if not entry.get("resources"):
                raise EncryptionConfigError(f"{where}.resources: Required value")
            providers = [
                _provider(f"{where}.providers[{i}]", item)
                for i, item in enumerate(entry.get("providers") or [])
            ]
            if not providers:
                raise EncryptionConfigError(f"{where}.providers: Required value")
            if providers[0].kind == "secretbox":
                raise EncryptionConfigError(
                    f"{where}.providers[0].secretbox: writing secretbox is not implemented by "
                    "the double"
                )
            prefixes = [p for name in entry["resources"] for p in _prefixes(str(name))]
            rules.append((prefixes, providers))
        if not rules:
            raise EncryptionConfigError("resources: Required value")
        return cls(rules)

    def _providers(self, key: str) -> list[Provider] | None:
        for prefixes, providers in self.rules:
            if any(key.startswith(prefix) for prefix in prefixes):
                return providers
        return None

    def to_storage(self, key: str, value: bytes) -> bytes:
        providers = self._providers(key)
        if not providers or providers[0].kind == "identity":
            return value
        from cryptography.hazmat.primitives import padding
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        first = providers[0]
        name, secret = first.keys[0]
        if first.kind == "aescbc":
            iv = os.urandom(16)
            padder = padding.PKCS7(128).padder()
            padded = padder.update(value) + padder.finalize()
            encryptor = Cipher(algorithms.AES(secret), modes.CBC(iv)).encryptor()
            return first.prefix(name) + iv + encryptor.update(padded) + encryptor.finalize()
        nonce = os.urandom(12)
        return first.prefix(name) + nonce + AESGCM(secret).encrypt(nonce, value, key.encode())

    def from_storage(self, key: str, value: bytes) -> bytes:
        providers = self._providers(key)
        if not value.startswith(b"k8s:enc:"):
            if providers and not any(p.kind == "identity" for p in providers):
                raise DecryptError(f"{key}: stored unencrypted and no identity provider reads it")
            return value
        from cryptography.hazmat.primitives import padding
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        for provider in providers or []:
            for name, secret in provider.keys:
                prefix = provider.prefix(name)
                if not value.startswith(prefix):
                    continue
                body = value[len(prefix) :]
                try:
                    if provider.kind == "aescbc":
                        decryptor = Cipher(algorithms.AES(secret), modes.CBC(body[:16])).decryptor()
                        padded = decryptor.update(body[16:]) + decryptor.finalize()
                        unpadder = padding.PKCS7(128).unpadder()
                        return unpadder.update(padded) + unpadder.finalize()
                    if provider.kind == "aesgcm":
                        return AESGCM(secret).decrypt(body[:12], body[12:], key.encode())
                except ValueError as error:
                    raise DecryptError(f"{key}: {provider.kind} key {name}: {error}") from None
        raise DecryptError(f"{key}: no matching prefix found for {value[:40]!r}")
