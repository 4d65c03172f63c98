"""The ``artifacts`` phase: fetch into the store on this machine, then place on the hosts.

Limited to some components (``create cluster --only etcd`` needs only etcd's tarball), it
works where the other components' binaries cannot be had. ``distribute`` places an explicit
artifact plan from a given store through the Engine (upload slots, retries, events).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from pathlib import Path

from kubexms.artifacts import (
    DEFAULT_REMOTE_DIR,
    NOARCH,
    ArtifactPlan,
    ArtifactStore,
    DistributionError,
    DistributionFailedError,
    FetchArtifacts,
    Placement,
    component_versions,
    default_bom,
    plan_artifacts,
    remote_path_of,
)
from kubexms.config import Cluster
from kubexms.engine import (
    ControlMachine,
    Engine,
    EngineOptions,
    Event,
    EventBus,
    EventKind,
    HostRef,
    Inventory,
    Module,
    Named,
    Pipeline,
    PlanContext,
    Roles,
    Task,
)
from kubexms.runtime import ClusterRuntime
from kubexms.steps._artifact import PlaceArtifact

_NOT_IN_NAME = re.compile(r"[^A-Za-z0-9._-]")
PIPELINE = "distribute"


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


class PlacementModule(Module):
    """Each artifact of an explicit ``plan`` in the cache of the hosts whose roles need it
    (``<remote_dir>/<component>/<version>/<file>``), verified by sha256 there: what
    :func:`distribute` runs. One task per component, all in parallel; the store is ``store``
    (None: the cluster's)."""

    name = "artifacts"

    def __init__(
        self,
        plan: ArtifactPlan,
        *,
        store: Path | None = None,
        remote_dir: str = DEFAULT_REMOTE_DIR,
    ) -> None:
        super().__init__()
        self.artifact_plan = plan
        self.store = store
        self.remote_dir = remote_dir

    def tasks(self, ctx: PlanContext) -> Sequence[Task]:
        groups: dict[tuple[str, str], set[str]] = {}
        for artifact in self.artifact_plan.artifacts:
            hosts = {host.name for host in ctx.inventory.hosts if artifact.roles & host.roles}
            groups.setdefault((artifact.component, artifact.version), set()).update(hosts)
        components = [component for component, _ in groups]
        tasks = []
        for (component, version), hosts in groups.items():
            if not hosts:
                continue
            name = component if components.count(component) == 1 else f"{component}-{version}"
            step = PlaceArtifact(
                component,
                version=version,
                store=str(self.store) if self.store is not None else None,
                remote_dir=self.remote_dir,
                name="place",
            )
            ordered = [name for name in ctx.inventory.names() if name in hosts]
            tasks.append(Task(_NOT_IN_NAME.sub("-", name), [step], Named(ordered), after=()))
        return tasks


async def distribute(
    runtime: ClusterRuntime,
    plan: ArtifactPlan,
    store: ArtifactStore,
    *,
    remote_dir: str = DEFAULT_REMOTE_DIR,
    upload_concurrency: int = 8,
    hosts: list[str] | None = None,
    options: EngineOptions | None = None,
) -> list[Placement]:
    """Put on each host (of ``hosts``, default all) the artifacts its roles and architecture
    need, through the Engine: a file already there with its sha256 is left alone, others are
    uploaded atomically and checked on the host. Every host is worked on (one host failing
    does not stop the others); failures are raised at the end, one DistributionError per host
    (several as DistributionFailedError).
    """
    chosen = [runtime.host(name) for name in hosts] if hosts is not None else list(runtime)
    inventory = Inventory(HostRef(host.name, host.roles) for host in chosen)
    module = PlacementModule(plan, store=store.root, remote_dir=remote_dir)
    graph = Pipeline(PIPELINE, [module]).plan(runtime.config, inventory)
    base = options or EngineOptions.from_config(runtime.config)
    engine_options = EngineOptions(
        concurrency=base.concurrency,
        upload_concurrency=upload_concurrency,
        step_timeout=base.step_timeout,
        retry=base.retry,
        continue_on_error=True,
        rollback_timeout=base.rollback_timeout,
    )
    outcomes: list[Event] = []
    bus = EventBus(outcomes.append)
    result = await Engine(runtime, engine_options, bus).run(graph)
    failures = [
        DistributionError(failure.host, failure.error.removeprefix(f"{failure.host}: "))
        for failure in result.failures
    ]
    if len(failures) == 1:
        raise failures[0]
    if failures:
        raise DistributionFailedError(failures)
    manifest = store.manifest()
    placements = []
    for event in outcomes:
        if event.kind not in (EventKind.CHANGED, EventKind.UNCHANGED) or event.host is None:
            continue
        node = graph.nodes[event.node or ""]
        step = node.step
        assert isinstance(step, PlaceArtifact)
        host = runtime.host(event.host)
        arch = host.arch or (await host.runner.facts()).arch
        entry = manifest.entry((step.component, step.version or "", arch)) or manifest.entry(
            (step.component, step.version or "", NOARCH)
        )
        if entry is None:  # the step verified it; the store changed under the run
            raise DistributionError(host.name, f"{step.component} left the store {store.root}")
        placements.append(
            Placement(
                host.name,
                entry.component,
                entry.version,
                entry.arch,
                remote_path_of(entry, remote_dir),
                entry.sha256,
                event.kind == EventKind.CHANGED,
            )
        )
    return placements
