"""Container image registries: mirrors, a private registry, and their logins."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, model_validator

from kubexms.config._base import ConfigModel
from kubexms.config._types import FilePath, Secret, Text, Url, invalid

_REGISTRY = re.compile(r"[a-z0-9]+(?:[.-][a-z0-9]+)*(?::[0-9]{1,5})?(?:/[a-z0-9._/-]+)?")


def _check_registry(value: str) -> str:
    if value and not _REGISTRY.fullmatch(value):
        raise invalid(
            f"'{value}' is not a registry like host[:port][/path] (lower case, no scheme)"
        )
    return value


RegistryName = Annotated[str, AfterValidator(_check_registry)]


class RegistryAuth(ConfigModel):
    """A login for one registry host."""

    username: Text
    password: Secret


class Registry(ConfigModel):
    """Where images come from."""

    type: Literal["none", "registry"] = Field(
        default="none",
        description="registry: kubexms runs the private registry on the registry role host.",
    )
    mirrors: list[Url] = Field(default_factory=list, description="Mirrors for docker.io.")
    private_registry: RegistryName = Field(
        default="", description="Registry (host[:port][/path]) all images are pulled from."
    )
    ca_file: FilePath | None = Field(
        default=None,
        description="CA of the private registry (type none); type registry makes its own.",
    )
    insecure_registries: list[Text] = Field(
        default_factory=list, description="Registries reached over plain HTTP or untrusted TLS."
    )
    auths: dict[str, RegistryAuth] = Field(
        default_factory=dict, description="Logins by registry host."
    )

    @model_validator(mode="after")
    def _registry_needs_a_name(self) -> Registry:
        if self.type == "registry" and not self.private_registry:
            raise invalid("type registry needs privateRegistry (host[:port][/path]) to serve")
        return self
