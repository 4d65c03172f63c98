"""Preflight checks: read-only verdicts on whether a host can become a Kubernetes node.

Each is a Check: it only reads the host, raises CheckFailedError saying what is wrong and
what is needed, and runs in dry runs too.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from kubexms.engine import Check, CheckFailedError, DataKey, HostNeeds, HostRequirements
from kubexms.preflight._requirements import (
    MIN_KERNEL,
    SUPPORTED_ARCHES,
    SUPPORTED_OS,
    parse_version,
)
from kubexms.runner import absent_modules, absent_modules_script
from kubexms.runtime import Context

CLOCK_OFFSET: DataKey[float] = DataKey("preflight.clock-offset", float)
"""Seconds a host's clock is ahead of the control machine's (per host, in shared_data)."""


@dataclass(frozen=True)
class Reachable(Check):
    """Commands run on the host, as root (directly or through sudo)."""

    name = "reachable"
    description = "commands run, and run as root"

    async def verify(self, ctx: Context) -> None:
        result = await ctx.runner.script("id -u")
        uid = result.stdout.strip()
        if uid != "0":
            raise CheckFailedError(
                ctx.host.name,
                self.name,
                f"commands run as uid {uid or '?'}, not root; log in as root or as a user "
                "allowed to use sudo",
            )


@dataclass(frozen=True)
class SupportedOS(Check):
    """A supported distribution and kernel, on amd64 or arm64, booted with systemd."""

    name = "os"
    description = "supported OS, kernel, architecture, systemd, package manager"

    async def verify(self, ctx: Context) -> None:
        facts = await ctx.runner.facts(refresh=True)
        problems = []
        minimum = SUPPORTED_OS.get(facts.os_id)
        if minimum is None:
            known = ", ".join(sorted(SUPPORTED_OS))
            problems.append(
                f"{facts.os_name or facts.os_id or 'this OS'} is not supported ({known})"
            )
        elif parse_version(facts.os_version) < parse_version(minimum):
            problems.append(f"{facts.os_id} {facts.os_version} is too old (need {minimum}+)")
        if parse_version(facts.kernel) < parse_version(MIN_KERNEL):
            problems.append(f"kernel {facts.kernel} is too old (need {MIN_KERNEL}+)")
        if facts.arch not in SUPPORTED_ARCHES:
            problems.append(f"architecture {facts.machine} is not amd64 or arm64")
        if facts.init_system != "systemd":
            problems.append(f"init is {facts.init_system}, not systemd (the kubelet needs it)")
        if facts.package_manager not in ("apt", "dnf", "yum"):
            problems.append("no apt, dnf or yum to install packages with")
        if problems:
            raise CheckFailedError(ctx.host.name, self.name, "; ".join(problems))


@dataclass(frozen=True)
class Resources(Check):
    """Enough CPUs and memory for what the host's roles will run (declared ``needs``)."""

    name = "resources"
    description = "CPUs and memory for the host's roles"

    needs: tuple[HostNeeds, ...]

    async def verify(self, ctx: Context) -> None:
        requirements = HostRequirements(self.needs)
        cpus, memory = requirements.minimums(ctx.host.roles)
        if not cpus and not memory:
            return
        facts = await ctx.runner.facts()
        problems = []
        if facts.cpus < cpus:
            problems.append(f"{facts.cpus} CPU(s), need {cpus}")
        if facts.memory_mib < memory:
            problems.append(f"{facts.memory_mib} MiB of memory, need {memory} MiB")
        if problems:
            roles = ", ".join(sorted(ctx.host.roles)) or "no role"
            why = [
                needs.why()
                for needs in requirements.for_roles(ctx.host.roles)
                if needs.cpus > facts.cpus or needs.memory_mib > facts.memory_mib
            ]
            raise CheckFailedError(
                ctx.host.name,
                self.name,
                f"{' and '.join(problems)} (roles: {roles}; for {', '.join(why)})",
            )


@dataclass(frozen=True)
class KernelModulesAvailable(Check):
    """Every kernel module the host's components need is loaded, built in, or loadable."""

    name = "kernel-modules"
    description = "kernel modules available: {names}"

    needs: tuple[HostNeeds, ...]

    @property
    def names(self) -> list[str]:
        return list(HostRequirements(self.needs).kernel_modules())

    def describe(self) -> str:
        return self.description.format(names=", ".join(self.names))

    async def verify(self, ctx: Context) -> None:
        wanted = HostRequirements(self.needs).kernel_modules(ctx.host.roles)
        if not wanted:
            return
        result = await ctx.runner.must_run(absent_modules_script(list(wanted), or_loadable=True))
        absent = set(absent_modules(result.stdout))
        missing = [name for name in wanted if name in absent]
        if missing:
            by_reason: dict[str, list[str]] = {}
            for name in missing:
                by_reason.setdefault(", ".join(wanted[name]), []).append(name)
            detail = "; ".join(
                f"{', '.join(names)} (needed by {why})" for why, names in by_reason.items()
            )
            raise CheckFailedError(
                ctx.host.name,
                self.name,
                f"kernel module(s) neither loaded, built in, nor loadable: {detail}",
            )


# Listening TCP sockets (state 0A) of the host's network namespace, local port in hex.
_LISTENING = r"""awk '$4 == "0A" { n = split($2, a, ":"); print a[n] }' \
  /proc/net/tcp /proc/net/tcp6 2>/dev/null"""


@dataclass(frozen=True)
class PortsFree(Check):
    """Nothing listens yet on the ports the host's components will listen on."""

    name = "ports"
    description = "ports the cluster's components will use are free"

    needs: tuple[HostNeeds, ...]
    owners: Mapping[int, str] = field(default_factory=dict)
    """Port -> the systemd unit it belongs to: held while that unit is active, it is the
    component's own (kubexms installed it on an earlier run), not a conflict. The ``service``
    a declaration for the host's roles names for its ports takes precedence."""

    async def verify(self, ctx: Context) -> None:
        wanted = HostRequirements(self.needs).ports(ctx.host.roles)
        if not wanted:
            return
        result = await ctx.runner.must_run(_LISTENING)
        listening = {int(value, 16) for value in result.stdout.split() if value}
        taken = [port for port in wanted if port in listening]
        owners = self._owners(ctx.host.roles)
        units = sorted({owners[port] for port in taken if port in owners})
        if units:
            active = {unit for unit in units if await ctx.runner.services.is_active(unit)}
            taken = [port for port in taken if owners.get(port) not in active]
        if taken:
            needed = "; ".join(f"{port} for {', '.join(wanted[port])}" for port in taken)
            raise CheckFailedError(
                ctx.host.name,
                self.name,
                f"TCP port(s) {', '.join(map(str, taken))} already in use; needed: {needed}",
            )

    def _owners(self, roles: frozenset[str]) -> dict[int, str]:
        found = {
            port: needs.service
            for needs in HostRequirements(self.needs).for_roles(roles)
            if needs.service
            for port in needs.ports
        }
        # What a component declares for this host's roles wins over the run-wide table (6443
        # is the proxy's on a load balancer host, the kubelet's on a master).
        return {**self.owners, **found}


@dataclass(frozen=True)
class ClockSkew(Check):
    """The host's clock agrees with the control machine's, so with every other host's.

    Each host may be off by at most half of ``max_skew`` (after allowing for the time the
    question took), so no two machines differ by more than ``max_skew``: certificates and
    etcd leases depend on it.
    """

    name = "clock"
    description = "clocks within {max_skew:g}s of each other"

    max_skew: float

    async def verify(self, ctx: Context) -> None:
        before = time.time()
        result = await ctx.runner.must_run("date +%s.%N")
        after = time.time()
        try:
            remote = float(result.stdout.strip())
        except ValueError:
            raise CheckFailedError(
                ctx.host.name, self.name, f"cannot read the clock: {result.stdout.strip()!r}"
            ) from None
        offset = remote - (before + after) / 2
        uncertainty = (after - before) / 2
        ctx.shared_data.set(CLOCK_OFFSET, offset)
        if abs(offset) - uncertainty > self.max_skew / 2:
            direction = "ahead of" if offset > 0 else "behind"
            raise CheckFailedError(
                ctx.host.name,
                self.name,
                f"clock is {abs(offset):.1f}s {direction} this machine's (at most "
                f"{self.max_skew / 2:g}s allowed); synchronise clocks (NTP/chrony)",
            )
