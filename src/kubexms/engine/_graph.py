"""The execution graph: Step nodes with namespaced ids, and the fragments planning builds."""

from __future__ import annotations

import graphlib
import hashlib
import itertools
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from kubexms.engine._errors import PlanError
from kubexms.engine._step import Step


@dataclass(frozen=True, slots=True, eq=False)
class Node:
    """One step planned onto hosts. ``id`` is ``pipeline/module/task/step``."""

    id: str
    step: Step
    hosts: tuple[str, ...]
    task_hosts: str = ""  # how the task chose its hosts, for plans

    @property
    def parts(self) -> tuple[str, str, str, str]:
        pipeline, module, task, step = self.id.split("/")
        return pipeline, module, task, step

    @property
    def module(self) -> str:
        return self.parts[1]

    @property
    def task(self) -> str:
        return self.parts[2]


@dataclass(slots=True)
class Fragment:
    """Part of a graph: nodes, their dependencies, and where it starts and ends.

    ``entries`` have no dependency inside the fragment; ``exits`` nothing in it depends on.
    An empty fragment (a task whose role has no hosts) passes ordering straight through.
    """

    nodes: dict[str, Node] = field(default_factory=dict)
    deps: dict[str, set[str]] = field(default_factory=dict)
    entries: list[str] = field(default_factory=list)
    exits: list[str] = field(default_factory=list)

    @classmethod
    def chain(cls, nodes: Sequence[Node]) -> Fragment:
        """Nodes one after another."""
        fragment = cls()
        previous: str | None = None
        for node in nodes:
            fragment.add(node, {previous} if previous else set())
            previous = node.id
        if nodes:
            fragment.entries = [nodes[0].id]
            fragment.exits = [nodes[-1].id]
        return fragment

    @classmethod
    def together(cls, nodes: Sequence[Node]) -> Fragment:
        """Nodes side by side: each is an entry and an exit (what follows waits for all)."""
        fragment = cls()
        for node in nodes:
            fragment.add(node, set())
        fragment.entries = [node.id for node in nodes]
        fragment.exits = [node.id for node in nodes]
        return fragment

    def add(self, node: Node, deps: set[str]) -> None:
        if node.id in self.nodes:
            raise PlanError(f"duplicate node id {node.id!r}: two steps share a name in one task")
        self.nodes[node.id] = node
        self.deps[node.id] = set(deps)

    @property
    def empty(self) -> bool:
        return not self.nodes


def compose(
    units: Sequence[tuple[str, Fragment]],
    after: Mapping[str, Sequence[str]],
    *,
    what: str,
) -> Fragment:
    """Join named fragments: each unit runs after the units ``after`` names for it.

    Cycles and unknown names raise PlanError naming them; ``what`` says where ("module etcd").
    """
    names = [name for name, _ in units]
    if len(set(names)) != len(names):
        duplicate = next(name for name in names if names.count(name) > 1)
        raise PlanError(f"{what}: two parts are named {duplicate!r}")
    by_name = dict(units)
    for name, before in after.items():
        for unknown in [name, *before]:
            if unknown not in by_name:
                raise PlanError(f"{what}: the ordering names {unknown!r}, which is not a part")
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for name in names:
        sorter.add(name, *after.get(name, ()))
    try:
        order = list(sorter.static_order())
    except graphlib.CycleError as error:
        cycle = " -> ".join(error.args[1])
        raise PlanError(f"{what}: the ordering has a cycle: {cycle}") from None

    result = Fragment()
    exits_of: dict[str, list[str]] = {}
    depended_on = {before for deps in after.values() for before in deps}
    for name in order:
        fragment = by_name[name]
        upstream: list[str] = []
        for before in after.get(name, ()):
            upstream.extend(exit_ for exit_ in exits_of[before] if exit_ not in upstream)
        if fragment.empty:
            exits_of[name] = upstream
            continue
        for node_id, node in fragment.nodes.items():
            deps = set(fragment.deps[node_id])
            if node_id in fragment.entries:
                deps.update(upstream)
            result.add(node, deps)
        exits_of[name] = list(fragment.exits)
    result.entries = [node_id for node_id, deps in result.deps.items() if not deps]
    result.exits = []
    for name in names:
        if name not in depended_on:
            result.exits.extend(e for e in exits_of[name] if e not in result.exits)
    return result


def sequence_order(names: Sequence[str]) -> dict[str, list[str]]:
    """The ``after`` mapping that runs ``names`` one after another."""
    return {name: [previous] for previous, name in itertools.pairwise(names)}


class ExecutionGraph:
    """A planned pipeline: nodes (in plan order) and what each depends on.

    Built only by :meth:`Pipeline.plan`; the constructor re-checks the graph is acyclic.
    """

    def __init__(self, pipeline: str, nodes: Mapping[str, Node], deps: Mapping[str, set[str]]):
        self.pipeline = pipeline
        self.nodes: dict[str, Node] = dict(nodes)
        self.dependencies: dict[str, frozenset[str]] = {
            node_id: frozenset(deps.get(node_id, ())) for node_id in self.nodes
        }
        for node_id, before in self.dependencies.items():
            missing = before - self.nodes.keys()
            if missing:
                raise PlanError(f"{node_id} depends on unknown node(s) {', '.join(missing)}")
        sorter = graphlib.TopologicalSorter(self.dependencies)
        try:
            self.order: tuple[str, ...] = tuple(sorter.static_order())
        except graphlib.CycleError as error:
            raise PlanError(f"the plan has a cycle: {' -> '.join(error.args[1])}") from None

    def __len__(self) -> int:
        return len(self.nodes)

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes.values())

    def hosts(self) -> list[str]:
        """Every host some node targets, first use first."""
        seen: dict[str, None] = {}
        for node in self.nodes.values():
            seen.update(dict.fromkeys(node.hosts))
        return list(seen)

    def pair_count(self) -> int:
        """How many (node, host) pairs the plan holds."""
        return sum(len(node.hosts) for node in self.nodes.values())

    def dependents(self) -> dict[str, list[str]]:
        """Node id -> ids of the nodes that depend on it directly."""
        result: dict[str, list[str]] = {node_id: [] for node_id in self.nodes}
        for node_id, before in self.dependencies.items():
            for dependency in before:
                result[dependency].append(node_id)
        return result

    def describe(self) -> list[dict[str, object]]:
        """JSON-able description of every node, in plan order (no secrets: see Step.params)."""
        return [
            {
                "id": node.id,
                "module": node.module,
                "task": node.task,
                "step": node.step.name,
                "kind": type(node.step).__name__,
                "description": node.step.describe(),
                "hosts": list(node.hosts),
                "selected_by": node.task_hosts,
                "depends_on": sorted(self.dependencies[node.id]),
                "params": dict(node.step.params()),
            }
            for node in self.nodes.values()
        ]

    def fingerprint(self) -> str:
        """sha256 of the plan's shape and parameters: what a checkpoint was made for."""
        text = json.dumps(
            {"pipeline": self.pipeline, "nodes": self.describe()}, sort_keys=True, default=str
        )
        return hashlib.sha256(text.encode()).hexdigest()
