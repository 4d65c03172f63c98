"""The load balancer's own step: what the building blocks cannot know from the cluster file
alone (the network interface that holds a host's address)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from shlex import quote

from kubexms.engine import Step
from kubexms.runner import Change, RunnerError
from kubexms.runtime import Context
from kubexms.steps import SystemdService


class InterfaceNotFoundError(RunnerError):
    """No interface of the host holds the address the virtual IP must sit beside."""


async def interface_holding(ctx: Context, address: str) -> str:
    """The name of the network interface that holds ``address`` on the host."""
    result = await ctx.runner.run(f"ip -o addr show to {quote(address)} 2>&1")
    for line in result.stdout.splitlines():
        words = line.split()
        if len(words) > 1 and words[0].endswith(":"):
            return words[1].split("@")[0]
    raise InterfaceNotFoundError(
        ctx.host.name,
        f"no network interface holds {address}, the host's internal address; set "
        "spec.controlPlaneEndpoint.loadBalancer.interface",
    )


@dataclass(frozen=True)
class ServiceOnInterface(Step):
    """A SystemdService whose files name the network interface holding the host's internal
    address (keepalived's VRRP instance, kube-vip's ``vip_interface``): ``service`` is called
    with that interface's name (or ``interface`` when the cluster file names one)."""

    service: Callable[[str], SystemdService]
    interface: str = ""
    name: str = "service"
    description = "service on the interface of the host's internal address"

    def params(self) -> dict[str, object]:
        # The declaration is the service as it would be on an interface called "<interface>";
        # the real one differs only in that name.
        probe = self.service(self.interface or "<interface>")
        return {"interface": self.interface or "detected", "service": dict(probe.params())}

    async def _resolved(self, ctx: Context) -> SystemdService:
        chosen = self.interface or await interface_holding(ctx, ctx.host.internal_address)
        return self.service(chosen)

    async def precheck(self, ctx: Context) -> Change:
        return await (await self._resolved(ctx)).precheck(ctx)

    async def run(self, ctx: Context) -> Change:
        return await (await self._resolved(ctx)).run(ctx)
