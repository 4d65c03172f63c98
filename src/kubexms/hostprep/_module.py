"""The OS preparation module: its tasks, as parallel branches on every host."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from kubexms.engine import AllHosts, ControlMachine, HostSelector, Module, PlanContext, Task
from kubexms.hostprep._kernel_steps import ApplySysctl, LoadKernelModules
from kubexms.hostprep._package_source import PackageSource
from kubexms.hostprep._package_steps import DownloadPackages, InstallPackages
from kubexms.hostprep._requirements import (
    KUBERNETES_SYSCTL,
    kernel_modules,
    package_names_by_manager,
    required_packages,
)
from kubexms.hostprep._system_steps import (
    DisableSwap,
    HostsFileBlock,
    SetHostname,
    SetTimezone,
    hosts_entries,
)


@dataclass(frozen=True, slots=True)
class OSPrepOptions:
    """Choices the cluster file does not hold: where packages come from, and the timezone
    (None leaves it alone)."""

    packages: PackageSource = field(default_factory=PackageSource.repositories)
    timezone: str | None = None


class OSPrepModule(Module):
    """Hostname and /etc/hosts; swap, kernel modules and sysctl; packages; timezone.

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
        super().__init__(parallel=True)
        self.options = options or OSPrepOptions()
        self.hosts = hosts or AllHosts()

    def tasks(self, ctx: PlanContext) -> Sequence[Task]:
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
            Task(
                "kernel",
                [
                    DisableSwap(),
                    LoadKernelModules([module.name for module in kernel_modules(config)]),
                    ApplySysctl(KUBERNETES_SYSCTL),
                ],
                self.hosts,
            ),
        ]
        source = self.options.packages
        if source.download:
            assert source.directory is not None
            tasks.append(
                Task(
                    "download",
                    [DownloadPackages(required_packages(config, "apt"), source.directory)],
                    ControlMachine(),
                )
            )
        tasks.append(
            Task(
                "packages", [InstallPackages(package_names_by_manager(config), source)], self.hosts
            )
        )
        if self.options.timezone is not None:
            tasks.append(Task("timezone", [SetTimezone(self.options.timezone)], self.hosts))
        return tasks

    def ordering(self, tasks: Sequence[Task]) -> Mapping[str, Sequence[str]]:
        names = {task.name for task in tasks}
        return {"packages": ["download"]} if "download" in names else {}
