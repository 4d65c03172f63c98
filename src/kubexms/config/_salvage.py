"""Validating the sections of an invalid spec one by one, so cross-field rules can still run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from kubexms.config._addons import Addon
from kubexms.config._checks import SpecParts
from kubexms.config._etcd import Etcd
from kubexms.config._hosts import ROLES, GlobalSettings, Host, RoleGroups
from kubexms.config._kubernetes import ControlPlaneEndpoint, Kubernetes
from kubexms.config._network import Network

_Model = TypeVar("_Model", bound=BaseModel)


def _valid(model: type[_Model], value: object) -> _Model | None:
    try:
        return model.model_validate(value)
    except ValidationError:
        return None


def _section(spec: Mapping[object, object], key: str, model: type[_Model]) -> _Model | None:
    return _valid(model, spec.get(key, {}))


def salvage_spec_parts(spec: Mapping[object, object]) -> SpecParts:
    """The valid parts of a raw spec; role-group entries that are themselves invalid are left out
    (they are reported by validation) so the remaining entries are still checked."""
    raw_hosts = spec.get("hosts")
    hosts_known = isinstance(raw_hosts, list)
    host_list: list[object] = raw_hosts if isinstance(raw_hosts, list) else []
    names = [
        raw["name"] if isinstance(raw, dict) and isinstance(raw.get("name"), str) else None
        for raw in host_list
    ]
    raw_addons = spec.get("addons")
    addon_list: list[object] = raw_addons if isinstance(raw_addons, list) else []
    return SpecParts(
        host_names=names,
        hosts=[_valid(Host, raw) for raw in host_list],
        role_groups=_salvage_role_groups(spec.get("roleGroups")) if hosts_known else None,
        global_=_section(spec, "global", GlobalSettings),
        control_plane_endpoint=_section(spec, "controlPlaneEndpoint", ControlPlaneEndpoint),
        etcd=_section(spec, "etcd", Etcd),
        network=_section(spec, "network", Network),
        addons=[_valid(Addon, raw) for raw in addon_list],
        kubernetes=_section(spec, "kubernetes", Kubernetes),
    )


def _salvage_role_groups(raw: object) -> RoleGroups | None:
    if not isinstance(raw, dict):
        return None
    groups = _valid(RoleGroups, raw)
    if groups is not None:
        return groups
    kept: dict[str, list[str]] = {}
    for role in ROLES:
        entries = raw.get(role)
        if isinstance(entries, list):
            kept[role] = [
                entry for entry in entries if _valid(RoleGroups, {role: [entry]}) is not None
            ]
    return _valid(RoleGroups, kept)
