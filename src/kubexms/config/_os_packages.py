"""Where the hosts' OS packages (socat, conntrack, ipset...) come from."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from kubexms.config._base import ConfigModel
from kubexms.config._types import FilePath


class OSPackages(ConfigModel):
    """``source``: ``auto`` (a host that reaches its package repositories installs from them;
    the others get packages carried from this machine), ``repositories`` (every host installs
    from its own repositories), ``offline`` (every host installs package files from ``dir``
    on this machine; without ``dir``, this machine downloads them first)."""

    source: Literal["auto", "repositories", "offline"] = Field(
        default="auto",
        description="auto | repositories | offline: where the hosts' OS packages come from.",
    )
    directory: FilePath | None = Field(
        default=None,
        alias="dir",
        description="Package files (.deb/.rpm) on this machine; default "
        "<workDir>/packages/deb, filled by apt-get download when packages are carried.",
    )
