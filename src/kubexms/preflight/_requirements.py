"""What preflight demands of every host itself: a supported OS and kernel, agreeing clocks.

What components need (CPUs and memory, kernel modules, ports) is declared by the components
(``kubexms.engine.HostNeeds``) and gathered by the pipeline.
"""

from __future__ import annotations

import re

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
