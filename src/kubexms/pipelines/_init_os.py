"""``init os``: preflight, then OS preparation, on every host of the cluster."""

from __future__ import annotations

from collections.abc import Sequence

from kubexms.containerd._needs import containerd_host_needs
from kubexms.engine import HostNeeds, Module, Pipeline, PlanContext
from kubexms.etcd import etcd_host_needs
from kubexms.hostprep import OSPrepModule, OSPrepOptions
from kubexms.loadbalancer import loadbalancer_host_needs
from kubexms.pipelines._kubernetes_needs import control_plane_host_needs
from kubexms.preflight import PreflightModule
from kubexms.registry._needs import registry_host_needs


class InitOSPipeline(Pipeline):
    """Preflight checks on every host, then the OS preparation every node needs."""

    name = "init-os"

    def __init__(self, options: OSPrepOptions | None = None) -> None:
        super().__init__()
        self.options = options or OSPrepOptions()

    def modules(self, ctx: PlanContext) -> Sequence[Module]:
        return [PreflightModule(), OSPrepModule(self.options)]

    def host_needs(self, ctx: PlanContext, modules: Sequence[Module]) -> Sequence[HostNeeds]:
        """What OS preparation declares, and what the cluster's components will need of the
        hosts it prepares (their ports, CPUs and memory), so preflight checks it now."""
        config = ctx.config
        return [
            *super().host_needs(ctx, modules),
            *etcd_host_needs(config),
            *containerd_host_needs(config),
            *registry_host_needs(config),
            *control_plane_host_needs(config),
            *loadbalancer_host_needs(config),
        ]
