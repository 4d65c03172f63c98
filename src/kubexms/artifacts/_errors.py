"""Errors of the artifacts layer: each names the artifact, the URL or file, and what to do."""

from __future__ import annotations

from kubexms._errors import KubexmsError


class ArtifactError(KubexmsError):
    """Something an artifact needs is missing, wrong or unreachable."""


class BomError(ArtifactError):
    """The bill of materials (or an override of it) is malformed or lacks what a cluster needs."""


class ChecksumUnavailableError(ArtifactError):
    """No sha256 can be trusted for an artifact: none is pinned and none is published."""


class ChecksumMismatchError(ArtifactError):
    """Bytes whose sha256 is not the expected one; they were not kept."""

    def __init__(self, what: str, expected: str, actual: str, advice: str = "") -> None:
        message = f"{what}: sha256 is {actual}, expected {expected}; the file was not kept"
        super().__init__(message + (f". {advice}" if advice else ""))
        self.expected = expected
        self.actual = actual


class DownloadError(ArtifactError):
    """A URL could not be fetched (no network, refused, HTTP error, cut short); worth
    trying again (the partial file is resumed)."""

    retryable = True

    def __init__(self, url: str, reason: str, advice: str = "") -> None:
        message = f"cannot download {url}: {reason}"
        super().__init__(message + (f"\n  {advice}" if advice else ""))
        self.url = url
        self.reason = reason


class BundleError(ArtifactError):
    """An offline bundle is malformed, incomplete or tampered with; nothing was imported."""


class DistributionError(ArtifactError):
    """An artifact could not be placed on a host, or arrived there different."""

    def __init__(self, host: str, message: str) -> None:
        super().__init__(f"{host}: {message}")
        self.host = host
