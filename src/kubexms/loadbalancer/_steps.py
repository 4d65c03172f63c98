"""The load balancer's own steps: what the building blocks cannot know from the cluster file
alone (the network interface that holds a host's address) and the endpoint's /etc/hosts line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from shlex import quote

from kubexms.engine import OperationStep, Step
from kubexms.loadbalancer._layout import HOSTS_MARKER
from kubexms.runner import Change, RunnerError
from kubexms.runtime import Context
from kubexms.steps import SystemdService

HOSTS_FILE = "/etc/hosts"


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
class EndpointHostsEntry(OperationStep):
    """The endpoint's ``domain`` resolves to ``address`` on this host: a block of its own in
    /etc/hosts (the local proxy's 127.0.0.1, or a master's own address)."""

    domain: str
    address: str

    name = "endpoint-name"
    description = "/etc/hosts: {domain} -> {address}"

    async def apply(self, ctx: Context, *, check: bool) -> Change:
        block = f"{self.address} {self.domain}\n"
        return await ctx.runner.files.managed_block(
            HOSTS_FILE, block, marker=HOSTS_MARKER, check=check
        )


@dataclass(frozen=True)
class EndpointHostsEntryOnMaster(OperationStep):
    """On a master the endpoint's ``domain`` is the master itself (its internal address)."""

    domain: str

    name = "endpoint-name"
    description = "/etc/hosts: {domain} -> this master"

    async def apply(self, ctx: Context, *, check: bool) -> Change:
        step = EndpointHostsEntry(self.domain, ctx.host.internal_address)
        return await step.apply(ctx, check=check)


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
