"""The preflight module: every check on every host, before anything changes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kubexms.engine import AllHosts, HostSelector, Module, PlanContext, Task
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

    def __init__(
        self, hosts: HostSelector | None = None, port_owners: Mapping[int, str] | None = None
    ) -> None:
        """``hosts``: whom to check (default: every host; ``create cluster --only etcd`` checks
        only the etcd hosts). ``port_owners``: a port held by this unit while it is active is
        the component's own (a rerun), not a conflict."""
        super().__init__()
        self.hosts = hosts or AllHosts()
        self.port_owners = dict(port_owners or {})

    def tasks(self, ctx: PlanContext) -> Sequence[Task]:
        checks = [
            Reachable(),
            SupportedOS(),
            Resources(ROLE_MINIMUMS, DEFAULT_MINIMUMS),
            KernelModulesAvailable(kernel_modules(ctx.config)),
            PortsFree(ports_by_role(ctx.config), self.port_owners),
            ClockSkew(MAX_CLOCK_SKEW),
        ]
        return [Task("checks", checks, self.hosts)]
