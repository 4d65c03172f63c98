"""Why an existing certificate no longer fits the config (an empty answer: keep it)."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.exceptions import InvalidSignature

from kubexms.pki._keys import PrivateKey, key_matches, key_type_of
from kubexms.pki._options import PkiOptions
from kubexms.pki._profiles import CertKind, CertProfile, certificate_sans


def days_left(certificate: x509.Certificate, now: dt.datetime) -> int:
    """Whole days until the certificate expires (negative once it has)."""
    return (certificate.not_valid_after_utc - now) // dt.timedelta(days=1)


def signed_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether ``issuer`` signed ``certificate`` (names match and the signature verifies)."""
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def is_ca(certificate: x509.Certificate) -> bool:
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        return False
    return constraints.value.ca


def _extended_usages(certificate: x509.Certificate) -> frozenset[x509.ObjectIdentifier]:
    try:
        extension = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    except x509.ExtensionNotFound:
        return frozenset()
    return frozenset(extension.value)


def _expiry_reason(
    certificate: x509.Certificate, options: PkiOptions, now: dt.datetime
) -> str | None:
    left = days_left(certificate, now)
    expires = certificate.not_valid_after_utc.strftime("%Y-%m-%d")
    if certificate.not_valid_after_utc <= now:
        return f"expired on {expires}"
    if left < options.renew_before_days:
        return (
            f"expires on {expires}, in {left} days, within the "
            f"{options.renew_before_days}-day renewal threshold"
        )
    return None


def _san_reason(certificate: x509.Certificate, profile: CertProfile) -> str | None:
    have, want = certificate_sans(certificate), profile.san_strings
    if have == want:
        return None
    parts = []
    if want - have:
        parts.append("adds " + ", ".join(sorted(want - have)))
    if have - want:
        parts.append("drops " + ", ".join(sorted(have - want)))
    return "SANs no longer match the config: it " + " and ".join(parts)


def mismatches(
    certificate: x509.Certificate,
    key: PrivateKey,
    profile: CertProfile,
    *,
    issuer: x509.Certificate | None,
    options: PkiOptions,
    now: dt.datetime,
) -> list[str]:
    """Every reason to replace ``certificate`` (and ``key``); empty when it still fits.

    ``issuer`` is the current issuing CA (None for a CA itself). A CA's key type is not
    compared with ``keyType``: replacing a CA re-keys the whole cluster, so a CA keeps its key
    until it is missing or expiring.
    """
    reasons: list[str] = []
    if not key_matches(certificate, key):
        reasons.append("the private key does not match the certificate")
    if issuer is None:
        if not (is_ca(certificate) and signed_by(certificate, certificate)):
            reasons.append("it is not a self-signed CA")
    elif not signed_by(certificate, issuer):
        current = issuer.subject.rfc4514_string()
        if certificate.issuer == issuer.subject:
            reasons.append(f"the issuing CA changed: the current {current} did not sign it")
        else:
            reasons.append(
                f"the issuing CA changed: it was issued by {certificate.issuer.rfc4514_string()}, "
                f"not by the current {current}"
            )
    expiry = _expiry_reason(certificate, options, now)
    if expiry:
        reasons.append(expiry)
    if certificate.subject != profile.subject:
        reasons.append(
            f"the subject is {certificate.subject.rfc4514_string()!r}, the config wants "
            f"{profile.subject.rfc4514_string()!r}"
        )
    if profile.kind is not CertKind.ca:
        if _extended_usages(certificate) != frozenset(profile.kind.extended_key_usages):
            reasons.append(f"its extended key usages are not those of a {profile.kind} cert")
        san = _san_reason(certificate, profile)
        if san:
            reasons.append(san)
        if key_type_of(key) != options.key_type:
            reasons.append(f"its key is {key_type_of(key)} and keyType is {options.key_type}")
    return reasons
