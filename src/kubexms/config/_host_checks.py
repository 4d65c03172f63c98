"""Rules about the machines: hosts, their logins, and which hosts play which role.

Part of the cross-field rules of kubexms.config._checks (the components' own rules stay there).
"""

from __future__ import annotations

import difflib
import ipaddress
from collections.abc import Sequence
from typing import TYPE_CHECKING

from kubexms.config._errors import Loc, Problem
from kubexms.config._host_ranges import expand_host_pattern
from kubexms.config._hosts import ROLES, GlobalSettings, Host, RoleGroups, auth_methods

if TYPE_CHECKING:
    from kubexms.config._etcd import Etcd
    from kubexms.config._kubernetes import ControlPlaneEndpoint

_SPEC: Loc = ("spec",)
API_SERVER_PORT = 6443
"""Where every master's API server listens; the endpoint's port is the load balancer's."""
_YAML_NAMES = {
    "password": "password",
    "private_key_path": "privateKeyPath",
    "private_key": "privateKey",
}


def _auth_problems(methods: list[str], loc: Loc) -> list[Problem]:
    if len(methods) < 2:
        return []
    first = _YAML_NAMES[methods[0]]
    return [
        (
            (*loc, _YAML_NAMES[other]),
            f"conflicts with {first}; set only one of password, privateKeyPath, privateKey",
        )
        for other in methods[1:]
    ]


def host_problems(
    host_names: Sequence[str | None],
    hosts: Sequence[Host | None],
    global_: GlobalSettings | None,
) -> list[Problem]:
    """Duplicate names and endpoints, conflicting login methods, more than one local host.

    ``host_names`` has one entry per ``spec.hosts`` item (see `SpecParts`); ``None`` marks
    what did not validate."""
    problems: list[Problem] = []
    hosts_loc: Loc = (*_SPEC, "hosts")
    first_by_name: dict[str, int] = {}
    for index, name in enumerate(host_names):
        if name is None:
            continue
        if name in first_by_name:
            problems.append(
                (
                    (*hosts_loc, index, "name"),
                    f"duplicate host name '{name}' "
                    f"(already used by spec.hosts[{first_by_name[name]}])",
                )
            )
        else:
            first_by_name[name] = index

    first_by_endpoint: dict[tuple[str, int], int] = {}
    first_local: int | None = None
    for index, host in enumerate(hosts):
        if host is None:
            continue
        loc = (*hosts_loc, index)
        problems += _auth_problems(auth_methods(host), loc)
        if host.bastion is not None:
            problems += _auth_problems(auth_methods(host.bastion), (*loc, "bastion"))
        if host.connector == "local":
            if first_local is not None:
                problems.append(
                    (
                        (*loc, "connector"),
                        "only one host may use the local connector "
                        f"(spec.hosts[{first_local}] does)",
                    )
                )
            else:
                first_local = index
        if global_ is None:
            continue
        port = host.port or global_.port
        endpoint = (_normalized_address(host.address), port)
        if endpoint in first_by_endpoint:
            other = first_by_endpoint[endpoint]
            problems.append(
                (
                    (*loc, "address"),
                    f"address {host.address} port {port} is already used by spec.hosts[{other}]",
                )
            )
        else:
            first_by_endpoint[endpoint] = index

    if global_ is not None:
        problems += _auth_problems(auth_methods(global_), (*_SPEC, "global"))
        if global_.bastion is not None:
            problems += _auth_problems(auth_methods(global_.bastion), (*_SPEC, "global", "bastion"))
    return problems


def _normalized_address(address: str) -> str:
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return address.lower().removesuffix(".")


def role_problems(
    host_names: Sequence[str | None],
    groups: RoleGroups | None,
    etcd: Etcd | None,
    endpoint: ControlPlaneEndpoint | None,
) -> list[Problem]:
    """Role groups naming unknown or repeated hosts, hosts in no group, the groups a cluster
    needs (a master, etcd hosts), and hosts whose roles cannot share them."""
    if groups is None:
        return []
    problems: list[Problem] = []
    groups_loc: Loc = (*_SPEC, "roleGroups")
    known = [name for name in host_names if name is not None]
    known_set = set(known)  # a list lookup per listed host was quadratic in the fleet's size
    all_names_known = len(known) == len(host_names)
    roles_of: dict[str, set[str]] = {}
    for role in ROLES:
        listed: set[str] = set()
        for index, pattern in enumerate(groups.patterns(role)):
            loc = (*groups_loc, role, index)
            names = expand_host_pattern(pattern)
            unknown = [name for name in names if name not in known_set]
            if unknown and all_names_known:
                problems.append((loc, _unknown_hosts_message(pattern, names, unknown, known)))
            repeated = [name for name in names if name in listed]
            if repeated:
                problems.append(
                    (loc, f"host '{repeated[0]}' is listed more than once in role group {role}")
                )
            listed.update(names)
            for name in names:
                roles_of.setdefault(name, set()).add(role)

    if all_names_known:
        for index, name in enumerate(known):
            if name not in roles_of:
                problems.append(((*_SPEC, "hosts", index), f"host '{name}' is in no role group"))

    if not groups.master:
        problems.append(((*groups_loc, "master"), "at least one master is required"))
    if etcd is not None and etcd.type != "external" and not groups.etcd:
        problems.append(
            (
                (*groups_loc, "etcd"),
                "at least one etcd host is required unless etcd.type is external",
            )
        )
    if etcd is not None and etcd.type == "kubeadm":
        masters = set(groups.members("master"))
        for index, pattern in enumerate(groups.etcd):
            outside = [name for name in expand_host_pattern(pattern) if name not in masters]
            if outside:
                problems.append(
                    (
                        (*groups_loc, "etcd", index),
                        f"host '{outside[0]}' is not a master; with etcd.type kubeadm etcd runs "
                        "on the masters",
                    )
                )
    if endpoint is not None:
        if len(groups.members("master")) > 1 and not endpoint.is_set:
            problems.append(
                (
                    (*_SPEC, "controlPlaneEndpoint"),
                    "a domain or address is required when there is more than one master",
                )
            )
        if endpoint.load_balancer.type == "external" and not groups.loadbalancer:
            problems.append(
                (
                    (*groups_loc, "loadbalancer"),
                    "at least one host is required when controlPlaneEndpoint.loadBalancer.type "
                    "is external",
                )
            )
        problems += _balancer_on_master_problems(endpoint, groups, groups_loc)
    return problems


def _balancer_on_master_problems(
    endpoint: ControlPlaneEndpoint, groups: RoleGroups, groups_loc: Loc
) -> list[Problem]:
    """An external load balancer listens on the endpoint's port on its hosts: on a master
    that port is the API server's own."""
    if endpoint.load_balancer.type != "external" or endpoint.port != API_SERVER_PORT:
        return []
    masters = set(groups.members("master"))
    for index, pattern in enumerate(groups.loadbalancer):
        both = [name for name in expand_host_pattern(pattern) if name in masters]
        if both:
            return [
                (
                    (*groups_loc, "loadbalancer", index),
                    f"host '{both[0]}' is a master, whose API server holds port "
                    f"{API_SERVER_PORT}, the port the load balancer would listen on; use "
                    "hosts that are not masters, or another controlPlaneEndpoint.port",
                )
            ]
    return []


def _unknown_hosts_message(
    pattern: str, names: list[str], unknown: list[str], known: list[str]
) -> str:
    if names == [pattern]:
        close = difflib.get_close_matches(pattern, known, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        return f"unknown host '{pattern}'{hint}"
    shown = ", ".join(unknown[:3]) + (f" and {len(unknown) - 3} more" if len(unknown) > 3 else "")
    return f"'{pattern}' includes unknown host{'s' if len(unknown) > 1 else ''} {shown}"
