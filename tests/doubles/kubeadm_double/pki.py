"""What the kubeadm double checks of the PKI it is given, and the few files it makes itself.

kubeadm uses certificates and kubeconfigs it finds in place after checking them: each
certificate is signed by its CA and not expired, each key matches its certificate, the API
server's serving certificate covers the endpoint and the node's advertised address, and an
existing kubeconfig trusts the cluster CA. The double makes no CA and no serving certificate
(kubexms provides them; a missing one is an error naming the file), only what kubeadm would
derive from the CA: kubeconfigs a node lacks (a client certificate signed by ``ca.key``).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import ipaddress
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PEM = serialization.Encoding.PEM


class PkiError(Exception):
    """A file of the PKI is missing, does not chain, does not match, or lacks a name."""


def load_cert(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except FileNotFoundError:
        raise PkiError(f"couldn't load the certificate file {path}: no such file") from None
    except ValueError as error:
        raise PkiError(f"{path} is not a PEM certificate: {error}") from None


def load_key(path: Path) -> Any:
    try:
        return serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        raise PkiError(f"couldn't load the private key file {path}: no such file") from None
    except (ValueError, TypeError) as error:
        raise PkiError(f"{path} is not a PEM private key: {error}") from None


def _public(key: Any) -> bytes:
    return bytes(key.public_bytes(PEM, serialization.PublicFormat.SubjectPublicKeyInfo))


def signed_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    """Whether ``ca``'s key signed ``cert`` (and names it as issuer)."""
    if cert.issuer != ca.subject:
        return False
    key = ca.public_key()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            assert cert.signature_hash_algorithm is not None
            key.verify(
                cert.signature,
                cert.tbs_certificate_bytes,
                padding.PKCS1v15(),
                cert.signature_hash_algorithm,
            )
        elif isinstance(key, ec.EllipticCurvePublicKey):
            assert cert.signature_hash_algorithm is not None
            key.verify(
                cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm)
            )
        else:
            return False
    except Exception:
        return False
    return True


def validity(cert: x509.Certificate) -> tuple[dt.datetime, dt.datetime]:
    """When ``cert`` is valid, as aware datetimes (python3-cryptography 38 on the hosts has
    only the naive properties; newer ones deprecate them)."""
    if hasattr(cert, "not_valid_before_utc"):
        return cert.not_valid_before_utc, cert.not_valid_after_utc
    utc = dt.UTC
    return cert.not_valid_before.replace(tzinfo=utc), cert.not_valid_after.replace(tzinfo=utc)


def check_pair(directory: Path, name: str, ca: x509.Certificate | None) -> x509.Certificate:
    """``<name>.crt`` and ``<name>.key`` exist, match, are valid now and (when ``ca`` is given)
    chain to it; returns the certificate."""
    cert = load_cert(directory / f"{name}.crt")
    key = load_key(directory / f"{name}.key")
    if _public(key.public_key()) != _public(cert.public_key()):
        raise PkiError(f"{directory / name}.key does not match {directory / name}.crt")
    start, end = validity(cert)
    if not start <= dt.datetime.now(dt.UTC) <= end:
        raise PkiError(f"certificate {name} is not valid now (valid {start} to {end})")
    if ca is not None and not signed_by(cert, ca):
        raise PkiError(f"certificate {name} is not signed by its CA")
    return cert


def check_public_pair(directory: Path, name: str) -> None:
    """The service-account pair: ``sa.key`` and ``sa.pub`` belong together."""
    key = load_key(directory / f"{name}.key")
    try:
        public = serialization.load_pem_public_key((directory / f"{name}.pub").read_bytes())
    except FileNotFoundError:
        raise PkiError(f"couldn't load the public key file {directory / name}.pub") from None
    if _public(key.public_key()) != _public(public):
        raise PkiError(f"{directory / name}.key does not match {directory / name}.pub")


def sans(cert: x509.Certificate) -> set[str]:
    """The DNS names and IP addresses a certificate is valid for."""
    try:
        extension = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    names = set(extension.get_values_for_type(x509.DNSName))
    names |= {str(ip) for ip in extension.get_values_for_type(x509.IPAddress)}
    return names


def require_sans(cert: x509.Certificate, name: str, wanted: list[str]) -> None:
    """``cert`` is valid for every one of ``wanted`` (kubeadm's message when it is not)."""
    have = sans(cert)
    for value in wanted:
        with contextlib.suppress(ValueError):
            value = str(ipaddress.ip_address(value))
        if value not in have:
            raise PkiError(
                f"certificate {name} is invalid: x509: certificate is valid for "
                f"{', '.join(sorted(have))}, not {value}"
            )


def spki_hash(cert: x509.Certificate) -> str:
    """kubeadm's ``sha256:<hex>`` pin of a CA's public key."""
    der = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "sha256:" + hashlib.sha256(der).hexdigest()


def read_kubeconfig(path: Path) -> dict[str, Any]:
    """A kubeconfig's current cluster: ``server`` and ``ca`` (PEM bytes), and its user."""
    document = yaml.safe_load(path.read_text())
    if not isinstance(document, dict) or document.get("kind") != "Config":
        raise PkiError(f"{path} is not a kubeconfig")
    current = document.get("current-context")
    contexts = {c["name"]: c["context"] for c in document.get("contexts") or []}
    clusters = {c["name"]: c["cluster"] for c in document.get("clusters") or []}
    users = {u["name"]: u["user"] for u in document.get("users") or []}
    if current not in contexts:
        raise PkiError(f"{path} has no current context")
    cluster = clusters.get(contexts[current].get("cluster"), {})
    user = users.get(contexts[current].get("user"), {})
    ca = base64.b64decode(cluster.get("certificate-authority-data", ""))
    return {"server": cluster.get("server", ""), "ca": ca, "user": user}


def check_kubeconfig(path: Path, ca_pem: bytes, server: str) -> list[str]:
    """An existing kubeconfig trusts the cluster CA (else PkiError); warnings (as kubeadm
    gives them) when its server differs."""
    found = read_kubeconfig(path)
    if found["ca"].strip() != ca_pem.strip():
        raise PkiError(
            f"a kubeconfig file {str(path)!r} exists already but has got the wrong CA cert"
        )
    client = found["user"].get("client-certificate-data")
    if client:
        cert = x509.load_pem_x509_certificate(base64.b64decode(client))
        if not signed_by(cert, x509.load_pem_x509_certificate(ca_pem)):
            raise PkiError(f"{path}: its client certificate is not signed by the cluster CA")
    if found["server"] != server:
        return [
            f"a kubeconfig file {str(path)!r} exists already but has an unexpected API Server "
            f"URL: expected: {server}, got: {found['server']}"
        ]
    return []


def kubeconfig(
    server: str,
    ca_pem: bytes,
    cluster_name: str,
    user: str,
    *,
    cert_pem: bytes | None = None,
    key_pem: bytes | None = None,
    token: str | None = None,
) -> bytes:
    """A kubeconfig as kubeadm writes it (client certificate, or a bootstrap token)."""
    credentials: dict[str, str] = {}
    if token is not None:
        credentials["token"] = token
    if cert_pem is not None and key_pem is not None:
        credentials["client-certificate-data"] = base64.b64encode(cert_pem).decode()
        credentials["client-key-data"] = base64.b64encode(key_pem).decode()
    context = f"{user}@{cluster_name}"
    document = {
        "apiVersion": "v1",
        "clusters": [
            {
                "cluster": {
                    "certificate-authority-data": base64.b64encode(ca_pem).decode(),
                    "server": server,
                },
                "name": cluster_name,
            }
        ],
        "contexts": [{"context": {"cluster": cluster_name, "user": user}, "name": context}],
        "current-context": context,
        "kind": "Config",
        "preferences": {},
        "users": [{"name": user, "user": credentials}],
    }
    return yaml.safe_dump(document).encode()


def client_certificate(
    ca: x509.Certificate, ca_key: Any, common_name: str, organization: str | None
) -> tuple[bytes, bytes]:
    """A client certificate and its new key (ECDSA P-256), signed by ``ca``: PEM bytes."""
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        names.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(names))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, True, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(PEM), key_pem
