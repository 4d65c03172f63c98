"""Errors of the pod network component."""

from __future__ import annotations

from kubexms._errors import KubexmsError


class ManifestError(KubexmsError):
    """A plugin's manifest does not have the shape kubexms changes (its source and what is
    missing are in the message)."""

    label = "manifest not as expected"
