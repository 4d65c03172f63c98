"""The OS preparation module: its tasks, as parallel branches on every host."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from kubexms.engine import (
    AllHosts,
    ControlMachine,
    HostNeeds,
    HostSelector,
    Module,
    Named,
    PlanContext,
    Step,
    Task,
    branches,
)
from kubexms.hostprep._os_steps import (
    ApplySysctl,
    DisableSwap,
    HostsFileBlock,
    LoadKernelModules,
    SetHostname,
    SetTimezone,
    hosts_entries,
)
from kubexms.hostprep._package_install import DownloadPackages, InstallPackages
from kubexms.hostprep._package_source import PackageSource
from kubexms.hostprep._requirements import os_needs


@dataclass(frozen=True, slots=True)
class OSPrepOptions:
    """Choices the cluster file does not hold: where packages come from, and the timezone
    (None leaves it alone)."""

    packages: PackageSource = field(default_factory=PackageSource.repositories)
    timezone: str | None = None


class OSPrepModule(Module):
    """Hostname and /etc/hosts; swap, kernel modules and sysctl; packages; timezone.

    Kernel modules, sysctls and packages are what the pipeline's modules declared
    (``ctx.needs``; this module declares the OS basics every node needs): each host gets what
    the declarations for its roles ask; hosts asked the same thing share one task.

    The branches are independent of each other, except that sysctl comes after the kernel
    modules (the ``net.bridge`` keys exist only once br_netfilter is loaded) and packages
    after their download.
    """

    name = "os"

    def __init__(
        self, options: OSPrepOptions | None = None, hosts: HostSelector | None = None
    ) -> None:
        """``hosts``: whom to prepare (default: every host; ``create cluster --only etcd``
        prepares only the etcd hosts)."""
        super().__init__()
        self.options = options or OSPrepOptions()
        self.hosts = hosts or AllHosts()

    def host_needs(self, ctx: PlanContext) -> Sequence[HostNeeds]:
        return os_needs(ctx.config)

    def tasks(self, ctx: PlanContext) -> Sequence[Task]:
        # Parallel branches, except where _after says a task waits for others.
        found = self._unordered_tasks(ctx)
        return branches(found, self._after(found))

    def _unordered_tasks(self, ctx: PlanContext) -> Sequence[Task]:
        config = ctx.config
        hosts = [(host.internal_address, host.name) for host in config.resolved_hosts()]
        endpoint = config.spec.control_plane_endpoint
        masters = config.hosts_with_role("master")
        address = endpoint.address or (masters[0].internal_address if masters else "")
        if endpoint.load_balancer.type == "internal":
            address = ""  # the loadbalancer phase names it per host: 127.0.0.1 or the master
        tasks = [
            Task(
                "identity",
                [SetHostname(), HostsFileBlock(hosts_entries(hosts, endpoint.domain, address))],
                self.hosts,
            ),
        ]
        groups = _groups(ctx, self.hosts)
        suffixes = _suffixes(len(groups))
        for suffix, (needs, selector) in zip(suffixes, groups.items(), strict=True):
            modules, sysctl, _ = needs
            kernel: list[Step] = [DisableSwap()]
            if modules:
                kernel.append(LoadKernelModules(list(modules)))
            if sysctl:
                kernel.append(ApplySysctl(dict(sysctl)))
            tasks.append(Task(f"kernel{suffix}", kernel, selector))
        source = self.options.packages
        if source.download:
            assert source.directory is not None
            wanted: list[str] = []  # what the chosen hosts install with apt, each once
            for needs in groups:
                for manager, names in needs[2]:
                    if manager == "apt":
                        wanted += [name for name in names if name not in wanted]
            if wanted:
                tasks.append(
                    Task("download", [DownloadPackages(wanted, source.directory)], ControlMachine())
                )
        for suffix, (needs, selector) in zip(suffixes, groups.items(), strict=True):
            packages = {manager: list(names) for manager, names in needs[2]}
            if any(packages.values()):
                install = InstallPackages(packages, source)
                tasks.append(Task(f"packages{suffix}", [install], selector))
        if self.options.timezone is not None:
            tasks.append(Task("timezone", [SetTimezone(self.options.timezone)], self.hosts))
        return tasks

    def _after(self, tasks: Sequence[Task]) -> Mapping[str, Sequence[str]]:
        names = {task.name for task in tasks}
        if "download" not in names:
            return {}
        return {name: ["download"] for name in names if name.startswith("packages")}


_Needs = tuple[
    tuple[str, ...], tuple[tuple[str, str], ...], tuple[tuple[str, tuple[str, ...]], ...]
]


def _groups(ctx: PlanContext, hosts: HostSelector) -> dict[_Needs, HostSelector]:
    """The hosts ``hosts`` selects, grouped by what the declared needs ask of them (kernel
    modules, sysctls, packages), in config order. When all of them need the same, one group
    with ``hosts`` itself as its selector."""
    chosen = set(hosts.select(ctx.inventory))
    by_needs: dict[_Needs, list[str]] = {}
    # Hosts share a handful of role sets: the needs are worked out once per set, not per host.
    by_roles: dict[frozenset[str], _Needs] = {}
    requirements = ctx.needs
    for host in ctx.inventory.hosts:
        if host.name not in chosen:
            continue
        roles = frozenset(host.roles)
        key = by_roles.get(roles)
        if key is None:
            key = (
                tuple(requirements.kernel_modules(roles)),
                tuple(requirements.sysctl(roles).items()),
                tuple(
                    (manager, tuple(names))
                    for manager, names in requirements.packages_by_manager(roles).items()
                ),
            )
            by_roles[roles] = key
        by_needs.setdefault(key, []).append(host.name)
    if len(by_needs) == 1:
        return {key: hosts for key in by_needs}
    return {key: Named(names) for key, names in by_needs.items()}


def _suffixes(count: int) -> list[str]:
    """ "" for a single group (the task names init os always had), "-1", "-2"... otherwise."""
    return [""] if count == 1 else [f"-{index}" for index in range(1, count + 1)]
