"""What preflight demands of a host: OS, kernel, CPUs and memory, free ports, clocks."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from kubexms.config import Cluster

SUPPORTED_OS: dict[str, str] = {
    "debian": "11",
    "ubuntu": "20.04",
    "rhel": "8",
    "centos": "8",
    "rocky": "8",
    "almalinux": "8",
    "ol": "8",
}
"""os-release ID -> the oldest supported VERSION_ID."""

MIN_KERNEL = "4.19"
SUPPORTED_ARCHES = ("amd64", "arm64")
MAX_CLOCK_SKEW = 2.0
"""Seconds two machines of a cluster may disagree by (certificates, etcd leases)."""


def parse_version(text: str) -> tuple[int, ...]:
    """The leading numbers of a version ("6.1.0-18-amd64" -> (6, 1, 0)); () if none."""
    found = re.match(r"\d+(\.\d+)*", text.strip())
    return tuple(int(part) for part in found.group(0).split(".")) if found else ()


@dataclass(frozen=True, slots=True)
class Minimums:
    """CPUs and memory a host must have."""

    cpus: int
    memory_mib: int

    def as_dict(self) -> dict[str, int]:
        return {"cpus": self.cpus, "memory_mib": self.memory_mib}

    @staticmethod
    def strictest(options: Sequence[Minimums]) -> Minimums:
        return Minimums(
            max(option.cpus for option in options),
            max(option.memory_mib for option in options),
        )


DEFAULT_MINIMUMS = Minimums(cpus=1, memory_mib=1024)
ROLE_MINIMUMS: dict[str, Minimums] = {
    # kubeadm's own preflight: a control-plane node needs 2 CPUs and 1700 MB.
    "master": Minimums(cpus=2, memory_mib=1700),
}


def ports_by_role(config: Cluster) -> dict[str, list[int]]:
    """TCP ports each role's components will listen on."""
    api_port = config.spec.control_plane_endpoint.port
    ports = {
        "master": [6443, 10250, 10257, 10259],
        "worker": [10250],
        "etcd": [2379, 2380, 2381],
    }
    if config.spec.control_plane_endpoint.load_balancer.type == "external":
        ports["loadbalancer"] = [api_port]
    return ports
