"""When each certificate expires: in the local PKI directory, in one table shape for every place."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from kubexms.pki._catalog import KUBECONFIG_DIR
from kubexms.pki._inspect import days_left, is_ca, signed_by
from kubexms.pki._kubeconfig import parse_kubeconfig

LOCAL = "local"
SELF_SIGNED = "self-signed"

Authorities = Sequence[tuple[str, x509.Certificate]]
"""Known CAs by name (``ca``, ``etcd/ca``, ``front-proxy-ca``), to name a certificate's issuer."""


@dataclass(frozen=True)
class CertificateExpiry:
    """One certificate: where it is, when it expires and which CA issued it.

    ``location`` is ``local`` (the control machine) or a host name; ``authority`` the issuing
    CA's name when it is a known CA, ``self-signed``, or else the issuer's common name.
    """

    name: str
    location: str
    path: str
    subject: str
    expires: dt.datetime
    days_left: int
    authority: str
    is_ca: bool

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "location": self.location,
            "path": self.path,
            "subject": self.subject,
            "expires": self.expires.isoformat(),
            "days_left": self.days_left,
            "authority": self.authority,
            "is_ca": self.is_ca,
        }


def common_name(name: x509.Name) -> str:
    values = name.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    return str(values[0].value) if values else name.rfc4514_string()


def authority_of(certificate: x509.Certificate, authorities: Authorities) -> str:
    """The name of the CA that signed ``certificate`` (see `CertificateExpiry.authority`)."""
    if certificate.issuer == certificate.subject and signed_by(certificate, certificate):
        return SELF_SIGNED
    for name, authority in authorities:
        if signed_by(certificate, authority):
            return name
    return common_name(certificate.issuer)


def describe(
    certificate: x509.Certificate,
    *,
    name: str,
    location: str,
    path: str,
    authorities: Authorities,
    now: dt.datetime,
) -> CertificateExpiry:
    """The expiry record of one certificate."""
    return CertificateExpiry(
        name=name,
        location=location,
        path=path,
        subject=common_name(certificate.subject),
        expires=certificate.not_valid_after_utc,
        days_left=days_left(certificate, now),
        authority=authority_of(certificate, authorities),
        is_ca=is_ca(certificate),
    )


def _first_certificate(data: bytes) -> x509.Certificate | None:
    try:
        return x509.load_pem_x509_certificates(data)[0]
    except ValueError:
        return None


def local_authorities(directory: Path) -> list[tuple[str, x509.Certificate]]:
    """The CA certificates in a PKI directory, named by their path (``etcd/ca``)."""
    found = []
    for path in sorted(directory.rglob("*.crt")):
        certificate = _first_certificate(path.read_bytes())
        if certificate is not None and is_ca(certificate):
            found.append((path.relative_to(directory).with_suffix("").as_posix(), certificate))
    return found


def local_expirations(
    directory: Path, *, now: dt.datetime | None = None
) -> list[CertificateExpiry]:
    """Every certificate in a PKI directory (``*.crt`` and kubeconfigs' client certificates).

    CAs come first, then the rest by name; unreadable files are skipped.
    """
    now = dt.datetime.now(dt.UTC) if now is None else now
    authorities = local_authorities(directory)
    found: list[CertificateExpiry] = []
    for path in sorted(directory.rglob("*.crt")):
        certificate = _first_certificate(path.read_bytes())
        if certificate is not None:
            name = path.relative_to(directory).with_suffix("").as_posix()
            found.append(
                describe(
                    certificate,
                    name=name,
                    location=LOCAL,
                    path=str(path),
                    authorities=authorities,
                    now=now,
                )
            )
    for path in sorted((directory / KUBECONFIG_DIR).glob("*.conf")):
        try:
            certificate = _first_certificate(parse_kubeconfig(path.read_bytes()).cert_pem)
        except ValueError:
            continue
        if certificate is not None:
            name = path.relative_to(directory).as_posix()
            found.append(
                describe(
                    certificate,
                    name=name,
                    location=LOCAL,
                    path=str(path),
                    authorities=authorities,
                    now=now,
                )
            )
    return sorted(found, key=lambda item: (not item.is_ca, item.name))
