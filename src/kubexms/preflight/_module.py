"""The preflight module: every check on every host, before anything changes."""

from __future__ import annotations

from collections.abc import Sequence

from kubexms.engine import AllHosts, Module, PlanContext, Task
from kubexms.hostprep import kernel_modules
from kubexms.preflight._checks import (
    ClockSkew,
    KernelModulesAvailable,
    PortsFree,
    Reachable,
    Resources,
    SupportedOS,
)
from kubexms.preflight._requirements import (
    DEFAULT_MINIMUMS,
    MAX_CLOCK_SKEW,
    ROLE_MINIMUMS,
    ports_by_role,
)


class PreflightModule(Module):
    """Reachability (as root), OS, resources, kernel modules, free ports, clock skew."""

    name = "preflight"

    def tasks(self, ctx: PlanContext) -> Sequence[Task]:
        checks = [
            Reachable(),
            SupportedOS(),
            Resources(ROLE_MINIMUMS, DEFAULT_MINIMUMS),
            KernelModulesAvailable(kernel_modules(ctx.config)),
            PortsFree(ports_by_role(ctx.config)),
            ClockSkew(MAX_CLOCK_SKEW),
        ]
        return [Task("checks", checks, AllHosts())]
