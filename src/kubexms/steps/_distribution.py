"""The ``artifacts`` phase: fetch into the store on this machine, then place on the hosts.

Limited to some components (``create cluster --only etcd`` needs only etcd's tarball), it
works where the other components' binaries cannot be had.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from kubexms.artifacts import FetchArtifacts, component_versions, default_bom, plan_artifacts
from kubexms.config import Cluster
from kubexms.engine import ControlMachine, Module, PlanContext, Roles, Task
from kubexms.steps._artifact import PlaceArtifact


class ArtifactsModule(Module):
    """Fetch ``components`` (None: every one the cluster needs) into the store, verified,
    then put each in the artifact cache of the hosts whose roles need it (verified there)."""

    name = "artifacts"

    def __init__(self, components: Collection[str] | None = None) -> None:
        super().__init__()
        self.components = None if components is None else tuple(sorted(components))

    def tasks(self, ctx: PlanContext) -> Sequence[Task]:
        config = ctx.config
        needed = component_versions(config, self._wanted(config))
        if not needed:
            return []
        bom = default_bom()
        tasks = [Task("fetch", [FetchArtifacts(tuple(sorted(needed)))], ControlMachine())]
        for component, version in sorted(needed.items()):
            step = PlaceArtifact(component, version=version, name="place")
            tasks.append(
                Task(f"place-{component}", [step], Roles(*bom.components[component].roles))
            )
        return tasks

    def _wanted(self, config: Cluster) -> list[str]:
        if self.components is not None:
            return list(self.components)
        any_arch = {host.name: ("amd64",) for host in config.resolved_hosts()}
        return sorted({a.component for a in plan_artifacts(config, any_arch).artifacts})
