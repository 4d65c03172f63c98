"""One host at a time: tasks that roll a change through a group of hosts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kubexms.engine import HostSelector, Named, PlanContext, Step, Task


def rolling(ctx: PlanContext, name: str, steps: Sequence[Step], hosts: HostSelector) -> list[Task]:
    """One task per host ``hosts`` selects (config order), each running ``steps`` on that
    host only, named ``<name>-<host>``.

    In a sequential module they run one after another, so a host finishes (e.g. restarted
    and healthy) before the next one begins; a parallel module orders them with
    :func:`one_after_another`. The selection is made at planning time from the cluster file.
    """
    return [Task(f"{name}-{host}", steps, Named([host])) for host in hosts.select(ctx.inventory)]


def one_after_another(
    tasks: Sequence[Task], first_after: Sequence[str] = ()
) -> Mapping[str, Sequence[str]]:
    """The ``after`` edges of a parallel module that chain ``tasks`` in order (the first one
    after the tasks named in ``first_after``)."""
    edges: dict[str, Sequence[str]] = {}
    previous: Sequence[str] = list(first_after)
    for task in tasks:
        if previous:
            edges[task.name] = previous
        previous = [task.name]
    return edges
