"""Rules that span fields: duplicates, role membership, endpoints, CIDR overlap, auth conflicts.

They run on whatever parts of a spec are valid, so one pass reports structural and cross-field
problems together.
"""

from __future__ import annotations

import difflib
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from kubexms.config._addons import Addon, helm_addon_problems, manifest_addon_problems
from kubexms.config._errors import Loc, Problem
from kubexms.config._etcd import Etcd, etcd_problems
from kubexms.config._host_ranges import expand_host_pattern
from kubexms.config._hosts import ROLES, GlobalSettings, Host, RoleGroups, auth_methods
from kubexms.config._kubelet_fields import KUBELET_FIELDS
from kubexms.config._kubernetes import ControlPlaneEndpoint, Kubernetes
from kubexms.config._network import Network, plugin_settings_problems

_SPEC: Loc = ("spec",)
API_SERVER_PORT = 6443
"""Where every master's API server listens; the endpoint's port is the load balancer's."""
_YAML_NAMES = {
    "password": "password",
    "private_key_path": "privateKeyPath",
    "private_key": "privateKey",
}


@dataclass(frozen=True)
class SpecParts:
    """The parts of a spec that validated; ``None`` where a part (or one host) did not.

    ``host_names`` has one entry per ``spec.hosts`` item: the name when it is known even if the
    rest of that host is invalid, so role groups are not blamed for a typo in a port.
    """

    host_names: Sequence[str | None]
    hosts: Sequence[Host | None]
    role_groups: RoleGroups | None
    global_: GlobalSettings | None
    control_plane_endpoint: ControlPlaneEndpoint | None
    etcd: Etcd | None
    network: Network | None
    addons: Sequence[Addon | None]
    kubernetes: Kubernetes | None = None


def spec_problems(parts: SpecParts) -> list[Problem]:
    """Every cross-field problem found in the valid parts of a spec."""
    problems: list[Problem] = []
    problems += _host_problems(parts)
    problems += _role_problems(parts)
    problems += _endpoint_problems(parts)
    problems += _etcd_problems(parts.etcd)
    problems += _network_problems(parts.network)
    problems += _node_local_dns_problems(parts.network, parts.kubernetes)
    problems += _addon_problems(parts.addons)
    problems += _certificate_problems(parts.kubernetes)
    problems += _kubelet_problems(parts.kubernetes)
    return problems


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


def _host_problems(parts: SpecParts) -> list[Problem]:
    problems: list[Problem] = []
    hosts_loc: Loc = (*_SPEC, "hosts")
    first_by_name: dict[str, int] = {}
    for index, name in enumerate(parts.host_names):
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

    global_ = parts.global_
    first_by_endpoint: dict[tuple[str, int], int] = {}
    first_local: int | None = None
    for index, host in enumerate(parts.hosts):
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


def _role_problems(parts: SpecParts) -> list[Problem]:
    groups = parts.role_groups
    if groups is None:
        return []
    problems: list[Problem] = []
    groups_loc: Loc = (*_SPEC, "roleGroups")
    known = [name for name in parts.host_names if name is not None]
    known_set = set(known)  # a list lookup per listed host was quadratic in the fleet's size
    all_names_known = len(known) == len(parts.host_names)
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
    etcd = parts.etcd
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
    endpoint = parts.control_plane_endpoint
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


def _endpoint_problems(parts: SpecParts) -> list[Problem]:
    endpoint = parts.control_plane_endpoint
    if endpoint is None:
        return []
    lb_type = endpoint.load_balancer.type
    if lb_type in ("external", "kube-vip") and not endpoint.address:
        return [
            (
                (*_SPEC, "controlPlaneEndpoint", "address"),
                f"the virtual IP address is required when loadBalancer.type is {lb_type}",
            )
        ]
    if lb_type == "kube-vip" and endpoint.port != API_SERVER_PORT:
        return [
            (
                (*_SPEC, "controlPlaneEndpoint", "port"),
                f"must be {API_SERVER_PORT} when loadBalancer.type is kube-vip: kube-vip only "
                "moves the address, clients reach the API server's own port",
            )
        ]
    if lb_type == "internal" and not endpoint.domain:
        return [
            (
                (*_SPEC, "controlPlaneEndpoint", "domain"),
                "a domain is required when loadBalancer.type is internal: it resolves to the "
                "local load balancer (127.0.0.1) on nodes that are not masters",
            )
        ]
    return []


def _etcd_problems(etcd: Etcd | None) -> list[Problem]:
    return [] if etcd is None else etcd_problems(etcd, (*_SPEC, "etcd"))


def _node_local_dns_problems(
    network: Network | None, kubernetes: Kubernetes | None
) -> list[Problem]:
    # With ipvs, kube-proxy's dummy interface holds the cluster DNS address, so the cache can
    # answer only on its link-local address, which the kubelet's clusterDNS would have to name.
    if network is None or kubernetes is None or not network.node_local_dns:
        return []
    if kubernetes.kube_proxy.mode != "ipvs":
        return []
    return [
        (
            (*_SPEC, "network", "nodeLocalDNS"),
            "needs kubernetes.kubeProxy.mode iptables: with ipvs the cache cannot answer on the "
            "cluster DNS address",
        )
    ]


def _network_problems(network: Network | None) -> list[Problem]:
    if network is None:
        return []
    problems = plugin_settings_problems(network, (*_SPEC, "network"))
    pods, services = network.pods_network, network.service_network
    if pods.version == services.version and pods.overlaps(services):
        problems.append(
            (
                (*_SPEC, "network", "kubeServiceCIDR"),
                f"{network.kube_service_cidr} overlaps kubePodsCIDR {network.kube_pods_cidr}",
            )
        )
    return problems


_HELM_ONLY = {
    "chart": "chart",
    "repo": "repo",
    "version": "version",
    "values": "values",
    "values_files": "valuesFiles",
    "timeout": "timeout",
}


def _addon_problems(addons: Sequence[Addon | None]) -> list[Problem]:
    problems: list[Problem] = []
    first_by_name: dict[str, int] = {}
    for index, addon in enumerate(addons):
        if addon is None:
            continue
        loc = (*_SPEC, "addons", index)
        if addon.name in first_by_name:
            problems.append(
                (
                    (*loc, "name"),
                    f"duplicate addon name '{addon.name}' (already used by "
                    f"spec.addons[{first_by_name[addon.name]}])",
                )
            )
        else:
            first_by_name[addon.name] = index
        if addon.type == "helm":
            if addon.chart is None:
                problems.append(((*loc, "chart"), "is required for a helm addon"))
            if addon.manifests:
                problems.append(((*loc, "manifests"), "is only for manifest addons"))
            problems += helm_addon_problems(addon, loc)
        else:
            if not addon.manifests:
                problems.append(((*loc, "manifests"), "at least one manifest is required"))
            problems += manifest_addon_problems(addon, loc)
            for attribute, yaml_name in _HELM_ONLY.items():
                if attribute in addon.model_fields_set:
                    problems.append(((*loc, yaml_name), "is only for helm addons"))
    return problems


# kubeadm renews leaves yearly and refuses longer ones; binaries under systemd may choose.
_KUBEADM_MAX_LEAF_DAYS = 365
_DEFAULT_LEAF_DAYS = 365


def _certificate_problems(kubernetes: Kubernetes | None) -> list[Problem]:
    if kubernetes is None:
        return []
    certificates = kubernetes.certificates
    loc: Loc = (*_SPEC, "kubernetes", "certificates")
    leaf_days = certificates.leaf_validity_days or _DEFAULT_LEAF_DAYS
    problems: list[Problem] = []
    if kubernetes.type == "kubeadm" and leaf_days > _KUBEADM_MAX_LEAF_DAYS:
        problems.append(
            (
                (*loc, "leafValidityDays"),
                f"at most {_KUBEADM_MAX_LEAF_DAYS} days with kubernetes.type kubeadm "
                f"(got {leaf_days}); longer leaves need type kubexm",
            )
        )
    if leaf_days > certificates.ca_validity_days:
        problems.append(
            (
                (*loc, "leafValidityDays"),
                f"{leaf_days} days outlives the CAs ({certificates.ca_validity_days} days)",
            )
        )
    if certificates.renew_before_days >= leaf_days:
        problems.append(
            (
                (*loc, "renewBeforeDays"),
                f"{certificates.renew_before_days} days must be shorter than the leaf "
                f"validity ({leaf_days} days), or every run would renew every certificate",
            )
        )
    return problems


KUBELET_MANAGED: dict[str, str] = {
    "cgroupDriver": "kubexms (systemd, as containerd is configured)",
    "containerRuntimeEndpoint": "kubexms (containerd's socket)",
    "clusterDNS": "spec.network.kubeServiceCIDR (its 10th address)",
    "clusterDomain": "spec.kubernetes.dnsDomain",
    "authentication": "kubexms (client certificates from the cluster CA, webhook)",
    "authorization": "kubexms (Webhook)",
}
"""KubeletConfiguration fields kubexms derives from the cluster: not settable in kubelet.config."""
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "number": (int, float),
    "object": (dict,),
    "array": (list,),
}


def _minor_of(version: str) -> tuple[int, int]:
    major, minor = version.lstrip("v").split(".")[:2]
    return int(major), int(minor)


def _kubelet_problems(kubernetes: Kubernetes | None) -> list[Problem]:
    if kubernetes is None:
        return []
    loc: Loc = (*_SPEC, "kubernetes", "kubelet", "config")
    version = _minor_of(kubernetes.version)
    problems: list[Problem] = []
    for key, value in kubernetes.kubelet.config.items():
        where = (*loc, key)
        if key in KUBELET_MANAGED:
            problems.append((where, f"'{key}' is set by {KUBELET_MANAGED[key]}"))
            continue
        if key not in KUBELET_FIELDS:
            close = difflib.get_close_matches(key, KUBELET_FIELDS, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            problems.append((where, f"'{key}' is not a KubeletConfiguration field{hint}"))
            continue
        json_type, since = KUBELET_FIELDS[key]
        if _minor_of(since) > version:
            problems.append(
                (
                    where,
                    f"'{key}' is a kubelet field from {since} on (kubernetes.version is "
                    f"{kubernetes.version})",
                )
            )
        wanted = _JSON_TYPES[json_type]
        if not isinstance(value, wanted) or (isinstance(value, bool) and bool not in wanted):
            problems.append((where, f"must be a JSON {json_type} (got {value!r})"))
    return problems
