"""Rules that span fields: duplicates, role membership, endpoints, CIDR overlap, auth conflicts.

They run on whatever parts of a spec are valid, so one pass reports structural and cross-field
problems together. The rules about hosts and role groups are kubexms.config._host_checks; the
components' (endpoint, etcd, network, addons, certificates, kubelet) are here.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

from kubexms.config._addons import Addon, helm_addon_problems, manifest_addon_problems
from kubexms.config._errors import Loc, Problem
from kubexms.config._etcd import Etcd, etcd_problems
from kubexms.config._host_checks import API_SERVER_PORT, host_problems, role_problems
from kubexms.config._hosts import GlobalSettings, Host, RoleGroups
from kubexms.config._kubelet_fields import KUBELET_FIELDS
from kubexms.config._kubernetes import ControlPlaneEndpoint, Kubernetes
from kubexms.config._network import Network, plugin_settings_problems

_SPEC: Loc = ("spec",)


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
    problems += host_problems(parts.host_names, parts.hosts, parts.global_)
    problems += role_problems(
        parts.host_names, parts.role_groups, parts.etcd, parts.control_plane_endpoint
    )
    problems += _endpoint_problems(parts)
    problems += _etcd_problems(parts.etcd)
    problems += _network_problems(parts.network)
    problems += _node_local_dns_problems(parts.network, parts.kubernetes)
    problems += _addon_problems(parts.addons)
    problems += _certificate_problems(parts.kubernetes)
    problems += _kubelet_problems(parts.kubernetes)
    return problems


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
