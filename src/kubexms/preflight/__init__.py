"""Preflight: read-only checks that every host can become a Kubernetes node.

Reachability as root, a supported OS and kernel, enough CPUs and memory for its roles, the
kernel modules it will need, free ports, and clocks in agreement. Each check fails with a
sentence naming the host and what is missing; none changes anything.
"""

from kubexms.preflight._checks import (
    CLOCK_OFFSET,
    ClockSkew,
    KernelModulesAvailable,
    PortsFree,
    Reachable,
    Resources,
    SupportedOS,
)
from kubexms.preflight._module import PreflightModule
from kubexms.preflight._requirements import (
    DEFAULT_MINIMUMS,
    MAX_CLOCK_SKEW,
    MIN_KERNEL,
    ROLE_MINIMUMS,
    SUPPORTED_OS,
    Minimums,
    parse_version,
    ports_by_role,
)

__all__ = [
    "CLOCK_OFFSET",
    "DEFAULT_MINIMUMS",
    "MAX_CLOCK_SKEW",
    "MIN_KERNEL",
    "ROLE_MINIMUMS",
    "SUPPORTED_OS",
    "ClockSkew",
    "KernelModulesAvailable",
    "Minimums",
    "PortsFree",
    "PreflightModule",
    "Reachable",
    "Resources",
    "SupportedOS",
    "parse_version",
    "ports_by_role",
]
