"""A plan as a tree (modules, tasks, steps, hosts) or as JSON, with dry-run findings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.markup import escape
from rich.tree import Tree

from kubexms.engine._graph import ExecutionGraph, Node
from kubexms.engine._inventory import CONTROL_HOST
from kubexms.engine._options import RunResult

_HOSTS_SHOWN = 6


def _hosts(names: Sequence[str]) -> str:
    shown = ", ".join(names[:_HOSTS_SHOWN])
    if len(names) > _HOSTS_SHOWN:
        shown += f", ... (+{len(names) - _HOSTS_SHOWN})"
    return shown


def _task_key(node: Node) -> str:
    return f"{node.module}/{node.task}"


def _task_after(graph: ExecutionGraph) -> dict[str, list[str]]:
    """module/task -> the other tasks its steps wait for directly."""
    after: dict[str, list[str]] = {}
    for node in graph:
        key = _task_key(node)
        entry = after.setdefault(key, [])
        for dependency in sorted(graph.dependencies[node.id]):
            other = _task_key(graph.nodes[dependency])
            if other != key and other not in entry:
                entry.append(other)
    return after


def _findings(
    graph: ExecutionGraph, result: RunResult | None
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """node -> hosts that would change, node -> "host: error", hosts in config order."""
    would: dict[str, list[str]] = {}
    failed: dict[str, list[str]] = {}
    if result is None:
        return would, failed
    position = {name: index for index, name in enumerate(graph.hosts())}
    for node, host in sorted(result.would_change, key=lambda pair: position.get(pair[1], 0)):
        would.setdefault(node, []).append(host)
    for failure in sorted(result.failures, key=lambda failure: position.get(failure.host, 0)):
        failed.setdefault(failure.node, []).append(f"{failure.host}: {failure.error}")
    return would, failed


def _by_detail(node: str, hosts: list[str], result: RunResult) -> dict[str, list[str]]:
    """What would change on a node's hosts -> the hosts it would change on (first seen first);
    hosts whose precheck said no more than "would change" have the empty detail."""
    grouped: dict[str, list[str]] = {}
    for host in hosts:
        grouped.setdefault(result.change_details.get((node, host), ""), []).append(host)
    return grouped


def cluster_hosts(graph: ExecutionGraph) -> list[str]:
    """The cluster hosts the plan touches (the control machine is not one of them)."""
    return [name for name in graph.hosts() if name != CONTROL_HOST]


def plan_tree(graph: ExecutionGraph, result: RunResult | None = None) -> Tree:
    """The plan as a rich Tree; with a dry run's result, what would change and what fails."""
    hosts = len(cluster_hosts(graph))
    tree = Tree(
        f"[bold]{escape(graph.pipeline)}[/] ({len(graph)} steps, {hosts} hosts, "
        f"{graph.pair_count()} step-host pairs)"
    )
    after = _task_after(graph)
    would, failed = _findings(graph, result)
    modules: dict[str, Tree] = {}
    tasks: dict[str, Tree] = {}
    for node in graph:
        module = modules.get(node.module)
        if module is None:
            module = modules[node.module] = tree.add(f"[bold]{escape(node.module)}[/]")
        key = _task_key(node)
        task = tasks.get(key)
        if task is None:
            label = f"{escape(node.task)} [dim]on {escape(node.task_hosts)}: "
            label += f"{escape(_hosts(node.hosts))}[/]"
            if after[key]:
                label += f" [dim]after {escape(', '.join(after[key]))}[/]"
            task = tasks[key] = module.add(label)
        text = escape(node.step.name)
        description = node.step.describe()
        if description:
            text += f" [dim]- {escape(description)}[/]"
        step = task.add(text)
        if result is None:
            continue
        for detail, hosts_of in _by_detail(node.id, would.get(node.id, []), result).items():
            line = f"[yellow]would change on {escape(_hosts(hosts_of))}[/]"
            step.add(line + (f": {escape(detail)}" if detail else ""))
        for failure in failed.get(node.id, []):
            step.add(f"[red]fails on {escape(failure)}[/]")
        if node.id not in would and node.id not in failed:
            step.add("[green]already done everywhere[/]")
    return tree


def plan_document(graph: ExecutionGraph, result: RunResult | None = None) -> dict[str, Any]:
    """The plan as JSON-able data (``-o json``); with a dry run's findings per node."""
    would, failed = _findings(graph, result)
    nodes = graph.describe()
    if result is not None:
        for node in nodes:
            node_id = str(node["id"])
            node["would_change"] = would.get(node_id, [])
            node["changes"] = {
                host: result.change_details.get((node_id, host), "")
                for host in would.get(node_id, [])
            }
            node["failures"] = failed.get(node_id, [])
    document: dict[str, Any] = {
        "pipeline": graph.pipeline,
        "plan_hash": graph.fingerprint(),
        "hosts": graph.hosts(),
        "pairs": graph.pair_count(),
        "nodes": nodes,
    }
    if result is not None:
        document["dry_run"] = {
            "would_change": len(result.would_change),
            "failed": len(result.failures),
            "outcome": result.outcome,
        }
    return document
