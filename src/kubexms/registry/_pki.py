"""The registry's own CA and server certificate, made on the control machine.

``<pki>/registry/ca.{crt,key}`` is a CA of its own (the cluster's CAs sign nothing outside
Kubernetes); every node trusts it for the registry alone (``certs.d/<registry>/ca.crt``).
``server.{crt,key}`` names the registry (its host name or address) and the registry hosts'
addresses. Both are kept while they still fit, remade when the names changed or they expire
within 30 days.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from kubexms.engine import Step
from kubexms.pki import (
    CertKind,
    CertProfile,
    default_pki_directory,
    issue_certificate,
    load_private_key,
    new_private_key,
    private_key_pem,
)
from kubexms.runner import Change
from kubexms.runtime import Context

CA_CERT = "registry/ca.crt"
CA_KEY = "registry/ca.key"
SERVER_CERT = "registry/server.crt"
SERVER_KEY = "registry/server.key"
_RENEW_BEFORE = dt.timedelta(days=30)


_Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _sans(names: Sequence[str]) -> tuple[tuple[str, ...], tuple[_Address, ...]]:
    dns: list[str] = []
    ips: list[_Address] = []
    for name in names:
        try:
            ips.append(ipaddress.ip_address(name))
        except ValueError:
            dns.append(name)
    return tuple(dict.fromkeys(dns)), tuple(dict.fromkeys(ips))


def _fits(cert_path: Path, key_path: Path, sans: frozenset[str] | None, now: dt.datetime) -> bool:
    try:
        certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = load_private_key(key_path.read_bytes())
    except (OSError, ValueError):
        return False
    info = PublicFormat.SubjectPublicKeyInfo
    mine = key.public_key().public_bytes(Encoding.PEM, info)
    if certificate.public_key().public_bytes(Encoding.PEM, info) != mine:
        return False
    if certificate.not_valid_after_utc - _RENEW_BEFORE < now:
        return False
    if sans is None:
        return True
    try:
        extension = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return False
    found = {f"DNS:{n}" for n in extension.value.get_values_for_type(x509.DNSName)}
    found |= {f"IP:{a}" for a in extension.value.get_values_for_type(x509.IPAddress)}
    return found == sans


def _write(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.part")
    partial.write_bytes(data)
    partial.chmod(mode)
    partial.replace(path)


def ensure_registry_pki(directory: Path, names: Sequence[str], now: dt.datetime) -> list[str]:
    """Make what is missing or stale; the files made."""
    dns, ips = _sans(names)
    profile = CertProfile("kubexms-registry", CertKind.server, dns_names=dns, ip_addresses=ips)
    made: list[str] = []
    ca_cert, ca_key = directory / CA_CERT, directory / CA_KEY
    if not _fits(ca_cert, ca_key, None, now):
        key = new_private_key("rsa")
        ca_profile = CertProfile("kubexms-registry-ca", CertKind.ca)
        certificate = issue_certificate(ca_profile, key, now=now, days=3650)
        _write(ca_key, private_key_pem(key), 0o600)
        _write(ca_cert, certificate.public_bytes(Encoding.PEM), 0o644)
        made += [CA_CERT, CA_KEY]
    server_cert, server_key = directory / SERVER_CERT, directory / SERVER_KEY
    if made or not _fits(server_cert, server_key, profile.san_strings, now):
        issuer = (
            x509.load_pem_x509_certificate(ca_cert.read_bytes()),
            load_private_key(ca_key.read_bytes()),
        )
        key = new_private_key("rsa")
        certificate = issue_certificate(profile, key, now=now, days=825, issuer=issuer)
        _write(server_key, private_key_pem(key), 0o600)
        _write(server_cert, certificate.public_bytes(Encoding.PEM), 0o644)
        made += [SERVER_CERT, SERVER_KEY]
    return made


@dataclass(frozen=True)
class RegistryPki(Step):
    """The registry's CA and server certificate for ``names`` in the work dir's PKI."""

    names: tuple[str, ...]
    name: str = "registry-pki"

    description = "registry CA and certificate for {names}"

    def _directory(self, ctx: Context) -> Path:
        return default_pki_directory(ctx.cluster.config)

    async def precheck(self, ctx: Context) -> Change:
        directory = self._directory(ctx)
        dns, ips = _sans(self.names)
        sans = CertProfile("x", CertKind.server, dns_names=dns, ip_addresses=ips).san_strings
        now = dt.datetime.now(dt.UTC)

        def fits() -> bool:
            return _fits(directory / CA_CERT, directory / CA_KEY, None, now) and _fits(
                directory / SERVER_CERT, directory / SERVER_KEY, sans, now
            )

        ok = await asyncio.to_thread(fits)
        return Change(not ok, "registry PKI", "" if ok else "would make the registry CA/cert")

    async def run(self, ctx: Context) -> Change:
        made = await asyncio.to_thread(
            ensure_registry_pki, self._directory(ctx), self.names, dt.datetime.now(dt.UTC)
        )
        return Change(bool(made), "registry PKI", f"made {', '.join(made)}" if made else "")
