"""Where an artifact is actually fetched from: upstream, a rewritten prefix, or a mirror."""

from __future__ import annotations

from kubexms.artifacts._plan import Artifact
from kubexms.artifacts._settings import ArtifactSettings


def rewrite_url(url: str, settings: ArtifactSettings) -> str:
    """``url`` with the longest matching ``urlRewrites`` prefix replaced."""
    matches = [prefix for prefix in settings.url_rewrites if url.startswith(prefix)]
    if not matches:
        return url
    prefix = max(matches, key=len)
    return settings.url_rewrites[prefix] + url[len(prefix) :]


def artifact_url(artifact: Artifact, settings: ArtifactSettings) -> str:
    """The URL to fetch ``artifact`` from: the mirror's copy when a mirror is set."""
    if settings.mirror is not None:
        return f"{settings.mirror.rstrip('/')}/{artifact.relpath}"
    return rewrite_url(artifact.url, settings)


def checksum_file_url(artifact: Artifact, settings: ArtifactSettings) -> str | None:
    """The URL of the artifact's published checksum file, rewritten like downloads are."""
    if artifact.checksum_url is None:
        return None
    return rewrite_url(artifact.checksum_url, settings)
