"""Preflight: read-only checks that every host can become a Kubernetes node.

Reachability as root, a supported OS and kernel, clocks in agreement, and what the pipeline's
components declared they need of the host's roles (``kubexms.engine.HostNeeds``): CPUs and
memory, kernel modules, free ports. Each check fails with a sentence naming the host and what
is missing; none changes anything.
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
    MAX_CLOCK_SKEW,
    MIN_KERNEL,
    SUPPORTED_OS,
    parse_version,
)

__all__ = [
    "CLOCK_OFFSET",
    "MAX_CLOCK_SKEW",
    "MIN_KERNEL",
    "SUPPORTED_OS",
    "ClockSkew",
    "KernelModulesAvailable",
    "PortsFree",
    "PreflightModule",
    "Reachable",
    "Resources",
    "SupportedOS",
    "parse_version",
]
