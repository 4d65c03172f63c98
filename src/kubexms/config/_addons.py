"""Workloads installed once the cluster is up: Helm charts or plain manifests."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from kubexms.config._artifacts import Sha256
from kubexms.config._base import ConfigModel
from kubexms.config._errors import Loc, Problem
from kubexms.config._types import FilePath, Name, Seconds, Text, Url, invalid

CHART_ARCHIVE_SUFFIX = ".tgz"
HELM_RELEASE_MAX = 53


def _path_as_source(value: Any) -> Any:
    # A plain string is a file on the control machine; a URL must say its sha256 (a mapping).
    if isinstance(value, str) and value.startswith(("http://", "https://")):
        raise invalid(f"a URL must be pinned: write {{url: {value}, sha256: <digest>}}")
    return {"path": value} if isinstance(value, str) else value


class ManifestSource(ConfigModel):
    """One manifest of a ``manifest`` add-on: a file on this machine (written as a plain
    string), or ``{url, sha256}``: fetched like an artifact and refused unless it matches."""

    path: FilePath | None = None
    url: Url | None = None
    sha256: Sha256 | None = None


class Addon(ConfigModel):
    """One add-on. A ``helm`` add-on names a ``chart``: a chart name in ``repo`` (with its
    ``version``), or the path of a local ``.tgz`` archive; a ``manifest`` add-on lists
    ``manifests`` (paths on the control machine, or ``{url, sha256}``)."""

    name: Name
    type: Literal["helm", "manifest"]
    namespace: Name = "default"
    chart: Text | None = None
    repo: Url | None = None
    version: Text | None = None
    values: dict[str, Any] = Field(default_factory=dict)
    values_files: list[FilePath] = Field(default_factory=list)
    timeout: Seconds = Field(default=300, description="helm --wait --timeout, in seconds.")
    manifests: list[Annotated[ManifestSource, BeforeValidator(_path_as_source)]] = Field(
        default_factory=list
    )

    @property
    def local_chart(self) -> bool:
        """The chart is an archive on this machine (carried to the host), not a repo's."""
        return self.chart is not None and self.chart.endswith(CHART_ARCHIVE_SUFFIX)


def helm_addon_problems(addon: Addon, loc: Loc) -> list[Problem]:
    """Where a ``helm`` add-on's chart is not one kubexms can install reproducibly."""
    if len(addon.name) > HELM_RELEASE_MAX:
        return [
            ((*loc, "name"), f"is the Helm release name: at most {HELM_RELEASE_MAX} characters")
        ]
    if addon.chart is None:
        return []
    if addon.repo is None and not addon.local_chart:
        return [
            (
                (*loc, "chart"),
                f"'{addon.chart}' is a chart name, which needs repo; or give the path of a "
                f"local {CHART_ARCHIVE_SUFFIX} archive",
            )
        ]
    if addon.repo is not None and addon.local_chart:
        return [((*loc, "repo"), "a local chart archive is installed as is; remove repo")]
    if addon.repo is not None and addon.version is None:
        return [
            (
                (*loc, "version"),
                "is required with repo: an unpinned chart changes under the cluster and cannot "
                "be carried in an offline bundle",
            )
        ]
    if addon.local_chart and addon.version is not None:
        return [((*loc, "version"), "a local chart archive is its own version; remove version")]
    return []


def manifest_addon_problems(addon: Addon, loc: Loc) -> list[Problem]:
    """Where a ``manifest`` add-on's manifests are not a file or a pinned URL."""
    problems: list[Problem] = []
    for index, source in enumerate(addon.manifests):
        where = (*loc, "manifests", index)
        if source.path is not None and source.url is not None:
            problems.append((where, "give path or url, not both"))
        elif source.path is not None:
            if str(source.path).startswith(("http:/", "https:/")):  # Path folded the "//"
                problems.append(((*where, "path"), "is a URL: write url and sha256 instead"))
            elif source.sha256 is not None:
                problems.append(((*where, "sha256"), "is only for a url"))
        elif source.url is not None:
            if source.sha256 is None:
                problems.append(
                    ((*where, "sha256"), "is required with url: a fetched manifest is pinned")
                )
        else:
            problems.append((where, "give the path of a file, or url with sha256"))
    return problems
