"""Task, Module and Pipeline: they only plan, turning steps and hosts into one graph.

A Task is steps (run in order) on the hosts its selector picks, and declares which tasks of
its module it runs after (by default the one listed before it); a Module is tasks; a Pipeline
runs its modules in order. ``Pipeline.plan`` returns the ExecutionGraph or raises PlanError:
an exception in any planner fails planning, never yields an empty plan that "succeeds".
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from kubexms.config import Cluster
from kubexms.engine._errors import PlanError
from kubexms.engine._graph import ExecutionGraph, Fragment, Node, compose, sequence_order
from kubexms.engine._inventory import HostSelector, Inventory
from kubexms.engine._needs import HostNeeds, HostRequirements
from kubexms.engine._step import Step

_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _check_name(kind: str, name: str) -> str:
    if not isinstance(name, str) or not _SEGMENT.fullmatch(name):
        raise PlanError(
            f"{kind} name {name!r} is not usable in a node id (letters, digits, '.', '_', '-'; "
            "no '/')"
        )
    return name


@dataclass(frozen=True, slots=True)
class PlanContext:
    """What planners read: the cluster file, its hosts in config order, and what the
    pipeline's modules need of those hosts (``needs``, gathered before any module plans)."""

    config: Cluster
    inventory: Inventory
    needs: HostRequirements = field(default_factory=HostRequirements)

    @classmethod
    def for_cluster(cls, config: Cluster) -> PlanContext:
        return cls(config, Inventory.from_cluster(config))


class Task:
    """Steps, run in order, on the hosts ``hosts`` selects (in config order).

    ``after`` is the one way tasks are ordered: the names of the tasks of the same module this
    one waits for. None (the default) waits for the task listed just before it, so a module's
    tasks run in sequence unless they say otherwise; ``()`` waits for nothing (a parallel
    branch). ``together``: the steps do not depend on each other and run at once (read-only
    checks); what follows the task waits for all of them.
    """

    def __init__(
        self,
        name: str,
        steps: Sequence[Step],
        hosts: HostSelector,
        *,
        after: Sequence[str] | None = None,
        together: bool = False,
    ) -> None:
        if isinstance(after, str):
            raise TypeError("after: pass a list of task names, not one string")
        self.name = name
        self.steps = list(steps)
        self.hosts = hosts
        self.after: tuple[str, ...] | None = None if after is None else tuple(after)
        self.together = together

    def __repr__(self) -> str:
        return f"Task({self.name!r}, {len(self.steps)} steps on {self.hosts.describe()})"

    def plan(self, ctx: PlanContext, prefix: str) -> Fragment:
        """One node per step, chained (or side by side: ``together``); empty when the
        selector picks no host."""
        _check_name("task", self.name)
        hosts = tuple(self.hosts.select(ctx.inventory))
        if not hosts:
            return Fragment()
        nodes = []
        for step in self.steps:
            if not isinstance(step, Step):
                raise PlanError(f"task {self.name}: {step!r} is not a Step")
            _check_name("step", step.name)
            nodes.append(
                Node(f"{prefix}/{self.name}/{step.name}", step, hosts, self.hosts.describe())
            )
        return Fragment.together(nodes) if self.together else Fragment.chain(nodes)


def task_order(tasks: Sequence[Task]) -> dict[str, list[str]]:
    """Task name -> the tasks it runs after, from each task's ``after`` (None: the previous
    task in the list)."""
    order: dict[str, list[str]] = {}
    for index, task in enumerate(tasks):
        if task.after is not None:
            order[task.name] = list(task.after)
        elif index:
            order[task.name] = [tasks[index - 1].name]
    return order


def branches(tasks: Sequence[Task], after: Mapping[str, Sequence[str]] | None = None) -> list[Task]:
    """``tasks`` as parallel branches: each waits only for the tasks ``after`` names for it
    (``{"packages": ["download"]}``); sets their ``after`` and returns them."""
    edges = after or {}
    for task in tasks:
        task.after = tuple(edges.get(task.name, ()))
    return list(tasks)


class Module:
    """A component's tasks. Their order is what each Task declares in ``after`` (by default
    one after another, in the order listed). Subclasses override :meth:`tasks` to build tasks
    from the cluster file.
    """

    name: str = ""

    def __init__(self, name: str | None = None, tasks: Sequence[Task] = ()) -> None:
        if name is not None:
            self.name = name
        self._tasks = list(tasks)

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "ordering" in cls.__dict__:
            raise TypeError(
                f"{cls.__name__}.ordering: modules no longer order their tasks in code; "
                "declare Task(..., after=[...]) (or use kubexms.engine.branches)"
            )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    def tasks(self, ctx: PlanContext) -> Sequence[Task]:
        """The tasks of this module for the cluster being planned."""
        return self._tasks

    def host_needs(self, ctx: PlanContext) -> Sequence[HostNeeds]:
        """What this module's component needs of its hosts (ports, packages, kernel modules,
        sysctls, CPUs and memory); preflight checks and OS preparation applies them."""
        return ()

    def plan(self, ctx: PlanContext, prefix: str) -> Fragment:
        _check_name("module", self.name)
        where = f"module {self.name}"
        try:
            tasks = list(self.tasks(ctx))
            units = [(task.name, task.plan(ctx, f"{prefix}/{self.name}")) for task in tasks]
            return compose(units, task_order(tasks), what=where)
        except PlanError as error:
            raise PlanError(f"{where}: {error}") from None
        except Exception as error:
            raise PlanError(f"{where}: planning failed: {type(error).__name__}: {error}") from error


class Pipeline:
    """Modules in order; ``plan`` builds the whole execution graph."""

    name: str = ""

    def __init__(self, name: str | None = None, modules: Sequence[Module] = ()) -> None:
        if name is not None:
            self.name = name
        self._modules = list(modules)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    def modules(self, ctx: PlanContext) -> Sequence[Module]:
        """The modules of this pipeline for the cluster being planned, in order."""
        return self._modules

    def host_needs(self, ctx: PlanContext, modules: Sequence[Module]) -> Sequence[HostNeeds]:
        """What the pipeline needs of hosts: by default what its modules declare."""
        return [needs for module in modules for needs in module.host_needs(ctx)]

    def plan(self, config: Cluster, inventory: Inventory | None = None) -> ExecutionGraph:
        """Plan the pipeline for ``config``; PlanError on any problem (nothing has run)."""
        where = f"pipeline {self.name or '?'}"
        try:
            _check_name("pipeline", self.name)
            ctx = PlanContext(config, inventory or Inventory.from_cluster(config))
            modules = list(self.modules(ctx))
            ctx = dataclasses.replace(
                ctx, needs=HostRequirements(tuple(self.host_needs(ctx, modules)))
            )
            units = [(module.name, module.plan(ctx, self.name)) for module in modules]
            fragment = compose(units, sequence_order([m.name for m in modules]), what=where)
            graph = ExecutionGraph(self.name, fragment.nodes, fragment.deps)
        except PlanError as error:
            message = str(error)
            raise PlanError(
                message if message.startswith(where) else f"{where}: {message}"
            ) from None
        except Exception as error:
            raise PlanError(f"{where}: planning failed: {type(error).__name__}: {error}") from error
        if not graph.nodes:
            raise PlanError(f"{where}: the plan has no steps; there is nothing to run")
        return graph
