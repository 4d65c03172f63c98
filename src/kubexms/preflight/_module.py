"""The preflight module: every check on every host, before anything changes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kubexms.engine import AllHosts, HostNeeds, HostSelector, Module, PlanContext, Task
from kubexms.preflight._checks import (
    ClockSkew,
    KernelModulesAvailable,
    PortsFree,
    Reachable,
    Resources,
    SupportedOS,
)
from kubexms.preflight._requirements import MAX_CLOCK_SKEW


class PreflightModule(Module):
    """Reachability (as root), OS, clock skew, and what the pipeline's modules declared they
    need of each host (``ctx.needs``): CPUs and memory, kernel modules, free ports.

    It knows no component: a host is checked for what the components of its roles declared.
    """

    name = "preflight"

    def __init__(
        self, hosts: HostSelector | None = None, port_owners: Mapping[int, str] | None = None
    ) -> None:
        """``hosts``: whom to check (default: every host; ``create cluster --only etcd`` checks
        only the etcd hosts). ``port_owners``: a port held by this unit while it is active is
        the component's own (a rerun), not a conflict (a declaration's ``service`` says the
        same for its ports)."""
        super().__init__()
        self.hosts = hosts or AllHosts()
        self.port_owners = dict(port_owners or {})

    def tasks(self, ctx: PlanContext) -> Sequence[Task]:
        declared = ctx.needs.declared

        def having(attribute: str) -> tuple[HostNeeds, ...]:
            return tuple(needs for needs in declared if getattr(needs, attribute))

        checks = [
            Reachable(),
            SupportedOS(),
            Resources(tuple(n for n in declared if n.cpus or n.memory_mib)),
            KernelModulesAvailable(having("kernel_modules")),
            PortsFree(having("ports"), self.port_owners),
            ClockSkew(MAX_CLOCK_SKEW),
        ]
        # The checks only read and each reports on its own (a failed one stops none of the
        # others): they run at once, one round trip each, not one after another.
        return [Task("checks", checks, self.hosts, together=True)]
