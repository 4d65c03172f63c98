"""``init os``: preflight, then OS preparation, on every host of the cluster."""

from __future__ import annotations

from collections.abc import Sequence

from kubexms.engine import Module, Pipeline, PlanContext
from kubexms.hostprep import OSPrepModule, OSPrepOptions
from kubexms.preflight import PreflightModule


class InitOSPipeline(Pipeline):
    """Preflight checks on every host, then the OS preparation every node needs."""

    name = "init-os"

    def __init__(self, options: OSPrepOptions | None = None) -> None:
        super().__init__()
        self.options = options or OSPrepOptions()

    def modules(self, ctx: PlanContext) -> Sequence[Module]:
        return [PreflightModule(), OSPrepModule(self.options)]
