"""The one error type of the PKI: bad settings or a PKI directory that cannot be used."""

from __future__ import annotations

from kubexms._errors import KubexmsError


class PkiError(KubexmsError):
    """Something to fix before certificates can be made or read; the message says what."""
