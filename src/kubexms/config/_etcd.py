"""The etcd cluster behind the API server."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from kubexms.config._base import ConfigModel
from kubexms.config._types import AbsolutePath, FilePath, Url, Version

DEFAULT_ETCD_VERSION = "v3.5.16"


class ExternalEtcd(ConfigModel):
    """An etcd cluster run by someone else (``etcd.type: external``)."""

    endpoints: list[Url] = Field(default_factory=list)
    ca_file: FilePath | None = None
    cert_file: FilePath | None = None
    key_file: FilePath | None = None


class Etcd(ConfigModel):
    """Where etcd runs: ``kubexm`` (binaries under systemd on the etcd hosts), ``kubeadm``
    (static pods on the masters) or ``external``."""

    type: Literal["kubexm", "kubeadm", "external"] = "kubexm"
    version: Version = DEFAULT_ETCD_VERSION
    data_dir: AbsolutePath = Path("/var/lib/etcd")
    external: ExternalEtcd = Field(default_factory=ExternalEtcd)
