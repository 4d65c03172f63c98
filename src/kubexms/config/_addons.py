"""Workloads installed once the cluster is up: Helm charts or plain manifests."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from kubexms.config._base import ConfigModel
from kubexms.config._types import FilePath, Name, Text, Url


class Addon(ConfigModel):
    """One add-on. A ``helm`` add-on names a ``chart``; a ``manifest`` add-on lists ``manifests``
    (paths on the control machine or URLs)."""

    name: Name
    type: Literal["helm", "manifest"]
    namespace: Name = "default"
    chart: Text | None = None
    repo: Url | None = None
    version: Text | None = None
    values: dict[str, Any] = Field(default_factory=dict)
    values_files: list[FilePath] = Field(default_factory=list)
    manifests: list[Text] = Field(default_factory=list)
