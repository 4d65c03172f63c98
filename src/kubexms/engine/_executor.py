"""The Engine: runs an ExecutionGraph over a ClusterRuntime.

Ready nodes run concurrently (graphlib decides readiness); inside a node every host runs
concurrently, all under one global limit of pairs in flight and a separate upload limit.
Fail-fast by default: after the first failure nothing new starts and pairs already running
finish. With ``continue_on_error`` a failed host is dropped from later nodes, a node that
completed on no host skips its dependents, and independent branches run to the end.
"""

from __future__ import annotations

import asyncio
import graphlib
import secrets
import time
from collections import Counter
from collections.abc import Collection

from kubexms._errors import error_label
from kubexms.engine._ahead import PrechecksAhead
from kubexms.engine._attempts import Attempted, PairRun, Slots, attempt_pair, describe_error
from kubexms.engine._checkpoint import CheckpointWriter
from kubexms.engine._control import control_host
from kubexms.engine._errors import PlanError
from kubexms.engine._events import Event, EventBus, EventKind
from kubexms.engine._graph import ExecutionGraph, Node
from kubexms.engine._inventory import CONTROL_HOST
from kubexms.engine._options import EngineOptions, PairFailure, RunResult
from kubexms.engine._step import Check
from kubexms.runtime import ClusterRuntime, Context, DataStore, Host

DONE_EARLIER = "completed in an earlier run (checkpoint)"
_DISTURBING = (EventKind.CHANGED, EventKind.FAILED)


class Engine:
    """Executes graphs on one runtime, reporting everything to ``events``.

    ``completed``: (node id, host) pairs a checkpoint says are done; they are skipped and
    count as completed, so their dependents are released. ``checkpoint`` records every pair
    completed in this run. ``control``: the Host standing for this machine (made on demand).
    """

    def __init__(
        self,
        runtime: ClusterRuntime,
        options: EngineOptions | None = None,
        events: EventBus | None = None,
        *,
        checkpoint: CheckpointWriter | None = None,
        completed: Collection[tuple[str, str]] = (),
        control: Host | None = None,
        run_id: str | None = None,
    ) -> None:
        self.runtime = runtime
        self.options = options or EngineOptions()
        self.events = events or EventBus()
        self.checkpoint = checkpoint
        self.completed = frozenset(completed)
        self.run_id = run_id or secrets.token_hex(6)
        self._control = control
        self._control_data = DataStore("shared data of the control machine")

    async def run(self, graph: ExecutionGraph) -> RunResult:
        """Execute the graph. Step failures are in the result; only engine bugs raise."""
        return await _Run(self, graph, dry_run=False).execute()

    async def dry_run(self, graph: ExecutionGraph) -> RunResult:
        """Run only prechecks (checks run fully, they only read): which pairs would change."""
        return await _Run(self, graph, dry_run=True).execute()

    def host(self, name: str) -> Host:
        if name == CONTROL_HOST:
            if self._control is None:
                self._control = control_host(self.runtime)
            return self._control
        try:
            return self.runtime.inventory[name]
        except KeyError:
            raise PlanError(f"the plan targets {name!r}, which is not in the runtime") from None

    def context(self, host: Host, node: Node, deadline: float) -> Context:
        if host.name == CONTROL_HOST:
            return Context(
                host=host,
                cluster=self.runtime,
                logger=self.runtime.logger.bind(host=host.name, step=node.id),
                shared_data=self._control_data,
                cluster_data=self.runtime.cluster_data,
                deadline=deadline,
            )
        return self.runtime.new_context(host, step=node.id, deadline=deadline)


class _Run:
    """The state of one execution of one graph."""

    def __init__(self, engine: Engine, graph: ExecutionGraph, *, dry_run: bool) -> None:
        self.engine = engine
        self.graph = graph
        self.dry_run = dry_run
        self.options = engine.options
        self.emit = engine.events.emit
        self.slots = Slots(self.options.concurrency, self.options.upload_concurrency)
        self.result = RunResult(graph.pipeline, engine.run_id, dry_run)
        self.counts: Counter[str] = Counter()
        self.stopped: str | None = None  # why nothing new may start (fail-fast)
        self.dropped: dict[str, str] = {}  # host -> node it failed at (continue-on-error)
        self.satisfied: dict[str, bool] = {}  # node -> completed on some host (or had none)
        self.ahead = self._prechecks_ahead()

    def _prechecks_ahead(self) -> PrechecksAhead | None:
        workers = self.options.concurrency // 2
        if not self.options.prechecks_ahead or workers < 1:
            return None
        unreachable = self.engine.runtime.unreachable
        pairs = [
            (node, host)
            for node in (self.graph.nodes[node_id] for node_id in self.graph.order)
            if self.graph.dependencies[node.id]  # a node without dependencies starts at once
            for host in node.hosts
            if host not in unreachable and (node.id, host) not in self.engine.completed
        ]
        return PrechecksAhead(
            pairs,
            lambda node, host, deadline: self.engine.context(
                self.engine.host(host), node, deadline
            ),
            self.slots.hold_pair,
            workers=workers,
            timeout=self._timeout,
            dry_run=self.dry_run,
        )

    def _timeout(self, node: Node) -> float:
        return node.step.timeout if node.step.timeout is not None else self.options.step_timeout

    async def execute(self) -> RunResult:
        for name in self.graph.hosts():
            if name not in self.engine.runtime.unreachable:
                self.engine.host(name)  # every target must exist before anything runs
        started = time.monotonic()
        self.emit(
            Event(
                EventKind.RUN_STARTED,
                data={
                    "run": self.engine.run_id,
                    "pipeline": self.graph.pipeline,
                    "dry_run": self.dry_run,
                    "nodes": len(self.graph),
                    "hosts": len([h for h in self.graph.hosts() if h != CONTROL_HOST]),
                    "pairs": self.graph.pair_count(),
                    "resumed_pairs": len(self.engine.completed),
                },
            )
        )
        try:
            await self._schedule()
        except asyncio.CancelledError:
            self.result.interrupted = True
            raise
        finally:
            self.result.duration = time.monotonic() - started
            self.result.counts = dict(self.counts)
            if self.engine.checkpoint is not None:
                self.engine.checkpoint.flush()
            self.emit(
                Event(
                    EventKind.RUN_FINISHED,
                    duration=self.result.duration,
                    data={
                        "run": self.engine.run_id,
                        "pipeline": self.graph.pipeline,
                        "outcome": self.result.outcome,
                        "counts": dict(self.counts),
                        "failed_hosts": self.result.failed_hosts,
                    },
                )
            )
        return self.result

    async def _schedule(self) -> None:
        sorter = graphlib.TopologicalSorter(self.graph.dependencies)
        sorter.prepare()
        running: dict[asyncio.Task[None], str] = {}
        try:
            while sorter.is_active():
                for node_id in sorter.get_ready():
                    node = self.graph.nodes[node_id]
                    if self.ahead is not None:
                        self.ahead.begun.add(node_id)
                    reason = self._why_not_start(node)
                    if reason is not None:
                        self._skip_node(node, reason)
                        sorter.done(node_id)
                    else:
                        running[asyncio.create_task(self._run_node(node))] = node_id
                if self.ahead is not None and not self.ahead.started:
                    self.ahead.start()  # after the first nodes: they need no early precheck
                if not running:
                    continue  # skipping made other nodes ready
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    sorter.done(running.pop(task))
                    task.result()  # an engine bug surfaces here instead of hanging the run
        finally:
            for task in running:
                task.cancel()
            if running:
                await asyncio.gather(*running, return_exceptions=True)
            if self.ahead is not None:
                await self.ahead.close()

    def _why_not_start(self, node: Node) -> str | None:
        if self.dry_run:
            return None
        if self.stopped is not None and not isinstance(node.step, Check):
            return self.stopped
        for dependency in sorted(self.graph.dependencies[node.id]):
            if not self.satisfied.get(dependency, False):
                return f"depends on {dependency}, which completed on no host"
        return None

    def _skip_node(self, node: Node, reason: str) -> None:
        self.emit(Event(EventKind.NODE_STARTED, node.id))
        for host in node.hosts:
            self._finish(node, host, Attempted(EventKind.SKIPPED, reason), 0.0)
        self.satisfied[node.id] = False
        self.emit(Event(EventKind.NODE_FINISHED, node.id, data={"skipped": len(node.hosts)}))

    async def _run_node(self, node: Node) -> None:
        self.emit(Event(EventKind.NODE_STARTED, node.id))
        started = time.monotonic()
        outcomes: Counter[str] = Counter()
        pending: list[str] = []
        for host in node.hosts:
            if not self.dry_run and (node.id, host) in self.engine.completed:
                outcomes[self._finish(node, host, Attempted(EventKind.SKIPPED, DONE_EARLIER))] += 1
            elif not self.dry_run and host in self.dropped and self._drops(node, host):
                reason = f"{host} failed earlier, at {self.dropped[host]}"
                outcomes[self._finish(node, host, Attempted(EventKind.SKIPPED, reason))] += 1
            elif host in self.engine.runtime.unreachable:
                # Left out at start-up (continue on healthy hosts): it fails at its first node.
                unreachable = Attempted(
                    EventKind.FAILED, error=self.engine.runtime.unreachable[host]
                )
                outcomes[self._finish(node, host, unreachable)] += 1
            else:
                pending.append(host)
        if pending:
            kinds = await asyncio.gather(*(self._run_pair(node, host) for host in pending))
            outcomes.update(kinds)
        completed = outcomes["changed"] + outcomes["unchanged"] + outcomes["resumed"]
        self.satisfied[node.id] = completed > 0 or self.dry_run
        if self.engine.checkpoint is not None:
            self.engine.checkpoint.settle()
        self.emit(
            Event(
                EventKind.NODE_FINISHED,
                node.id,
                duration=time.monotonic() - started,
                data=dict(outcomes),
            )
        )

    async def _run_pair(self, node: Node, name: str) -> str:
        host = self.engine.host(name)
        started = time.monotonic()
        early = await self.ahead.verdict(node, name) if self.ahead is not None else None
        stop = self._never_stopped if isinstance(node.step, Check) else self._stop_reason
        if early is not None and stop(name) is None:
            self.emit(Event(EventKind.STARTED, node.id, name))
            if early.would_change:
                attempted = Attempted(EventKind.WOULD_CHANGE, early.detail)
            else:  # as in its turn: a step that reports keeps what its precheck found
                attempted = Attempted(
                    EventKind.UNCHANGED, early.detail if node.step.reports else ""
                )
            return self._finish(node, name, attempted, early.duration)
        pair = PairRun(
            node=node,
            host=name,
            make_context=lambda deadline: self.engine.context(host, node, deadline),
            options=self.options,
            emit=self.emit,
            slots=self.slots,
            stop_reason=stop,
            dry_run=self.dry_run,
        )
        attempted = await attempt_pair(pair)
        return self._finish(node, name, attempted, time.monotonic() - started)

    def _drops(self, node: Node, host: str) -> bool:
        """Whether a host that failed earlier sits this node out: always, unless the node is
        a check and the host can be reached (then its verdict is still worth having)."""
        return not isinstance(node.step, Check) or host in self.engine.runtime.unreachable

    @staticmethod
    def _never_stopped(host: str) -> None:
        # Checks only read: each host's verdict is worth more than the seconds a stop saves,
        # so a failure does not cancel them (on 200 unfit hosts, all 200 are reported).
        return None

    def _stop_reason(self, host: str) -> str | None:
        if self.dry_run:
            return None
        if self.stopped is not None:
            return self.stopped
        if host in self.dropped:
            return f"{host} failed earlier, at {self.dropped[host]}"
        return None

    def _finish(self, node: Node, host: str, attempted: Attempted, duration: float = 0.0) -> str:
        """Emit the pair's one result event and record it; returns the outcome's name."""
        kind = attempted.kind
        error = attempted.error
        if self.ahead is not None and not self.dry_run and kind in _DISTURBING:
            self.ahead.disturbed = True  # the hosts may no longer be as the early prechecks saw
        if error is not None:
            self.result.failures.append(
                PairFailure(node.id, host, describe_error(error), type(error).__name__)
            )
            if self.options.continue_on_error or self.dry_run:
                self.dropped.setdefault(host, node.id)
            elif self.stopped is None:
                self.stopped = f"the run stopped after {node.id} failed on {host}"
        elif kind in (EventKind.CHANGED, EventKind.UNCHANGED) and not self.dry_run:
            if self.engine.checkpoint is not None:
                self.engine.checkpoint.record(node.id, host)
        elif kind is EventKind.WOULD_CHANGE:
            self.result.would_change.append((node.id, host))
            if attempted.detail:
                self.result.change_details[(node.id, host)] = attempted.detail
        self.emit(
            Event(
                kind,
                node.id,
                host,
                duration=duration,
                detail=attempted.detail,
                error=describe_error(error) if error is not None else "",
                error_type=type(error).__name__ if error is not None else "",
                error_label=error_label(error) if error is not None else "",
                note=attempted.detail if _reported(node, kind) else "",
            )
        )
        self.counts[kind.value] += 1
        if kind is EventKind.SKIPPED and attempted.detail == DONE_EARLIER:
            return "resumed"
        return kind.value


def _reported(node: Node, kind: EventKind) -> bool:
    """Whether the pair's detail is a result the summary shows (a reporting step that ended
    changed or unchanged)."""
    return node.step.reports and kind in (EventKind.CHANGED, EventKind.UNCHANGED)
