"""Host identity and kernel settings: hostname, the managed /etc/hosts block, swap, timezone,
kernel modules and kernel parameters.

Each is an OperationStep over one Runner operation: the precheck is that operation in check
mode (the same probe as its run), so no step here reads the host by itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from kubexms.engine import DataKey, OperationStep, ReversibleStep
from kubexms.runner import MODULES_FILE, SYSCTL_FILE, Change
from kubexms.runtime import Context

HOSTS_FILE = "/etc/hosts"
HOSTS_MARKER = "kubexms"


@dataclass(frozen=True)
class SetHostname(OperationStep):
    """The host's hostname (now and in /etc/hostname) is its name in the cluster file."""

    name = "hostname"
    description = "hostname = the host's name in the cluster file"

    async def apply(self, ctx: Context, *, check: bool) -> Change:
        return await ctx.runner.system.hostname(ctx.host.name, check=check)


@dataclass(frozen=True)
class HostsFileBlock(OperationStep):
    """A block kubexms owns in /etc/hosts naming every cluster host (and the API endpoint);
    the rest of the file is left as it is."""

    name = "hosts-file"
    description = "managed block in {file} with every cluster host"

    entries: Sequence[tuple[str, str]]
    file: str = HOSTS_FILE

    @property
    def block(self) -> str:
        width = max((len(address) for address, _ in self.entries), default=0)
        return "".join(f"{address:<{width}} {names}\n" for address, names in self.entries)

    async def apply(self, ctx: Context, *, check: bool) -> Change:
        return await ctx.runner.files.managed_block(
            self.file, self.block, marker=HOSTS_MARKER, check=check
        )


def hosts_entries(
    hosts: Sequence[tuple[str, str]], endpoint_domain: str, endpoint_address: str
) -> list[tuple[str, str]]:
    """(address, names) lines: each host by its internal address, then the API endpoint's
    domain (if any) at its address."""
    entries = list(hosts)
    if endpoint_domain and endpoint_address:
        entries.append((endpoint_address, endpoint_domain))
    return entries


@dataclass(frozen=True)
class DisableSwap(OperationStep):
    """Swap off now, and no swap entry left active in /etc/fstab (the kubelet requires it)."""

    name = "swap-off"
    description = "swap off now and at boot"

    async def apply(self, ctx: Context, *, check: bool) -> Change:
        return await ctx.runner.system.swap_off(check=check)


@dataclass(frozen=True)
class SetTimezone(OperationStep):
    """/etc/localtime (and /etc/timezone where there is one) name the wanted zone."""

    name = "timezone"
    description = "timezone {zone}"

    zone: str

    async def apply(self, ctx: Context, *, check: bool) -> Change:
        return await ctx.runner.system.timezone(self.zone, check=check)


@dataclass(frozen=True)
class LoadKernelModules(OperationStep):
    """The modules are loaded (or built in) now and listed for loading at boot."""

    name = "kernel-modules"
    description = "kernel modules {modules} now and at boot"

    modules: Sequence[str]
    file: str = MODULES_FILE

    async def apply(self, ctx: Context, *, check: bool) -> Change:
        return await ctx.runner.system.kernel_modules(self.modules, file=self.file, check=check)


@dataclass(frozen=True, slots=True)
class _SysctlBefore:
    """What a sysctl run found, for its rollback: the old file (None: there was none) and
    the old live values of the keys."""

    file: str | None
    live: dict[str, str]


@dataclass(frozen=True)
class ApplySysctl(OperationStep, ReversibleStep):
    """Kernel parameters set now (where the host lets them be) and in a file for boot.

    A key whose /proc/sys entry is read-only here (a container or simulated host, where only
    ``net.*`` is writable) counts as done once the file holds it. If applying fails, the
    rollback puts the file and the live values back as they were.
    """

    name = "sysctl"

    values: Mapping[str, str]
    file: str = SYSCTL_FILE

    def describe(self) -> str:
        return f"{len(self.values)} kernel parameters now and at boot"

    @property
    def _saved(self) -> DataKey[_SysctlBefore]:
        return DataKey(f"hostprep.sysctl-before:{self.file}", _SysctlBefore)

    async def apply(self, ctx: Context, *, check: bool) -> Change:
        if not check and self._saved not in ctx.shared_data:
            # A retry must not overwrite the true "before".
            live = await ctx.runner.system.sysctl_values(list(self.values))
            old = await ctx.runner.files.exists(self.file)
            text = await ctx.runner.files.read_text(self.file) if old else None
            values = {key: value for key, value in live.items() if value is not None}
            ctx.shared_data.set(self._saved, _SysctlBefore(text, values))
        return await ctx.runner.system.sysctl(self.values, file=self.file, check=check)

    async def rollback(self, ctx: Context) -> None:
        saved = ctx.shared_data.get_or(self._saved, None)
        if saved is None:
            return  # the run failed before it changed anything
        if saved.file is None:
            await ctx.runner.files.remove(self.file)
        else:
            await ctx.runner.files.write(self.file, saved.file)
        current = await ctx.runner.system.sysctl_values(list(saved.live))
        changed = {key: value for key, value in saved.live.items() if current[key] != value}
        if changed:
            # Only the values it changed, and only live: the file is back already.
            await ctx.runner.system.sysctl(changed, file=None)
