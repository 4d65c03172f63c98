"""Issuing certificates with `cryptography`: self-signed CAs and leaves signed by them."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa

from kubexms.pki._keys import PrivateKey
from kubexms.pki._profiles import CertKind, CertProfile

BACKDATE = dt.timedelta(minutes=5)
"""Certificates start a little in the past so hosts whose clocks lag still accept them."""


def key_usage(kind: CertKind, key: PrivateKey) -> x509.KeyUsage:
    """Digital signature always; key encipherment for RSA keys only (RFC 5480 has no such use
    for EC keys, and kubeadm omits it for them too); certificate and CRL signing for CAs."""
    is_ca = kind is CertKind.ca
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=isinstance(key, rsa.RSAPrivateKey),
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=is_ca,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def issue_certificate(
    profile: CertProfile,
    key: PrivateKey,
    *,
    now: dt.datetime,
    days: int,
    issuer: tuple[x509.Certificate, PrivateKey] | None = None,
) -> x509.Certificate:
    """A certificate for ``key`` with ``profile``, valid ``days`` from ``now``.

    ``issuer`` None makes a self-signed CA. A leaf never outlives its issuer: its end is
    clipped to the CA's.
    """
    not_before = now - BACKDATE
    not_after = now + dt.timedelta(days=days)
    public_key = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(profile.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .add_extension(
            x509.BasicConstraints(ca=profile.kind is CertKind.ca, path_length=None), critical=True
        )
        .add_extension(key_usage(profile.kind, key), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    if profile.kind.extended_key_usages:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage(list(profile.kind.extended_key_usages)), critical=False
        )
    general_names: list[x509.GeneralName] = [x509.DNSName(name) for name in profile.dns_names]
    general_names += [x509.IPAddress(address) for address in profile.ip_addresses]
    if general_names:
        builder = builder.add_extension(x509.SubjectAlternativeName(general_names), critical=False)

    if issuer is None:
        signer, issuer_name = key, profile.subject
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key), critical=False
        )
    else:
        ca_cert, signer = issuer
        issuer_name = ca_cert.subject
        not_after = min(not_after, ca_cert.not_valid_after_utc)
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.public_key()),
            critical=False,
        )
    builder = builder.issuer_name(issuer_name).not_valid_before(not_before)
    return builder.not_valid_after(not_after).sign(signer, hashes.SHA256())
