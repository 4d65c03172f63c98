"""Container image registries: mirrors, a private registry, and their logins."""

from __future__ import annotations

from pydantic import Field

from kubexms.config._base import ConfigModel
from kubexms.config._types import Secret, Text, Url


class RegistryAuth(ConfigModel):
    """A login for one registry host."""

    username: Text
    password: Secret


class Registry(ConfigModel):
    """Where images come from."""

    mirrors: list[Url] = Field(default_factory=list, description="Mirrors for docker.io.")
    private_registry: str = Field(
        default="", description="Registry (host[:port][/path]) all images are pulled from."
    )
    insecure_registries: list[Text] = Field(
        default_factory=list, description="Registries reached over plain HTTP or untrusted TLS."
    )
    auths: dict[str, RegistryAuth] = Field(
        default_factory=dict, description="Logins by registry host."
    )
