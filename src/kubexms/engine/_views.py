"""Human views of the event stream: a live rich view on a terminal, plain lines elsewhere."""

from __future__ import annotations

from collections import Counter
from types import TracebackType
from typing import Self

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.live import Live
from rich.markup import escape
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from kubexms.engine._events import PAIR_RESULTS, Event, EventKind
from kubexms.engine._folding import NAMES_SHOWN, FailureFolder, host_list, without_host
from kubexms.engine._graph import ExecutionGraph
from kubexms.engine._inventory import CONTROL_HOST

_ACTIVE_SHOWN = 12
_FAILURES_SHOWN = 8


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def _tally(data: dict[str, object] | None) -> str:
    parts = [f"{value} {key}" for key, value in (data or {}).items() if value]
    return ", ".join(parts) or "no hosts"


class _ViewState:
    """What both views track: per-module progress, what each host is doing, failures."""

    def __init__(self, graph: ExecutionGraph) -> None:
        self.pipeline = graph.pipeline
        self.module_of = {node.id: node.module for node in graph}
        self.totals: Counter[str] = Counter()
        for node in graph:
            self.totals[node.module] += len(node.hosts)
        self.done: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self.active: dict[str, list[str]] = {}  # host -> nodes it works on now, latest last
        self.failures = FailureFolder()  # "node: first line of the error", by hosts
        self.node_failures: dict[str, FailureFolder] = {}  # node -> whole errors, by hosts
        self.counts: Counter[str] = Counter()

    def update(self, event: Event) -> None:
        if event.host is None or event.node is None:
            return
        if event.kind is EventKind.STARTED:
            self.active.setdefault(event.host, []).append(event.node)
        elif event.kind in PAIR_RESULTS:
            module = self.module_of.get(event.node, "?")
            self.done[module] += 1
            self.counts[event.kind.value] += 1
            running = self.active.get(event.host, [])
            if event.node in running:
                running.remove(event.node)
                if not running:
                    del self.active[event.host]
            if event.kind is EventKind.FAILED:
                self.failed[module] += 1
                error = without_host(event.host, event.error)
                self.failures.add(event.host, f"{event.node}: {_first_line(error)}".rstrip(": "))
                folder = self.node_failures.setdefault(event.node, FailureFolder())
                folder.add(event.host, error)


class _LiveRenderable:
    def __init__(self, state: _ViewState) -> None:
        self.state = state

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        state = self.state
        bars = Table.grid(padding=(0, 1))
        bars.add_column()
        bars.add_column()
        bars.add_column(justify="right")
        for module, total in state.totals.items():
            failed = state.failed[module]
            status = f"{state.done[module]}/{total}" + (
                f" [red]{failed} failed[/]" if failed else ""
            )
            bars.add_row(
                module, ProgressBar(total=total, completed=state.done[module], width=40), status
            )
        parts: list[Table | Text] = [bars]
        if state.active:
            active = Table.grid(padding=(0, 1))
            for host, nodes in list(state.active.items())[:_ACTIVE_SHOWN]:
                doing = ", ".join(node.split("/", 1)[-1] for node in nodes)
                active.add_row(Text(host, style="cyan"), Text(doing))
            hidden = len(state.active) - _ACTIVE_SHOWN
            if hidden > 0:
                active.add_row(Text(f"... and {hidden} more hosts", style="dim"), Text(""))
            parts.append(active)
        for failure in state.failures.groups()[-_FAILURES_SHOWN:]:
            line = f"failed: {failure.headline()}"
            if len(failure.hosts) > 1:
                line += f" ({host_list(failure.hosts, NAMES_SHOWN)})"
            parts.append(Text(line, style="red"))
        yield Group(*parts)


class LiveView:
    """A live rich view: a progress bar per module, the current step of each busy host, and
    failures as they happen. Use as a context manager around the run; feed it events."""

    def __init__(self, graph: ExecutionGraph, console: Console) -> None:
        self.state = _ViewState(graph)
        self._live = Live(
            _LiveRenderable(self.state), console=console, refresh_per_second=4, transient=True
        )

    def __call__(self, event: Event) -> None:
        self.state.update(event)

    def renderable(self) -> _LiveRenderable:
        """What the view shows now (rendered again on every refresh)."""
        return _LiveRenderable(self.state)

    def __enter__(self) -> Self:
        self._live.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._live.stop()


class PlainView:
    """Plain lines, no animation (not a terminal): failures and retries as they happen, one
    line per finished node."""

    def __init__(self, graph: ExecutionGraph, console: Console) -> None:
        self.state = _ViewState(graph)
        self._console = console
        self._hosts = len([name for name in graph.hosts() if name != CONTROL_HOST])

    def _say(self, text: str, style: str = "") -> None:
        self._console.print(escape(text), style=style or None, highlight=False, soft_wrap=True)

    def _folded(self, node: str, host: str, error: str) -> bool:
        """Whether this failure is one another host already had on that step."""
        error = without_host(host, error)
        for failure in self.state.node_failures[node].groups():
            if failure.text == error:
                return failure.hosts[0] != host
        return False

    def __call__(self, event: Event) -> None:
        self.state.update(event)
        kind = event.kind
        if kind is EventKind.RUN_STARTED and event.data:
            data = event.data
            verb = "checking" if data.get("dry_run") else "running"
            self._say(
                f"{data.get('pipeline')}: {verb} {data.get('nodes')} steps on {self._hosts} "
                f"hosts ({data.get('pairs')} step-host pairs)"
            )
        elif kind is EventKind.FAILED and event.node is not None and event.host is not None:
            # The first host failing a step for a reason is told at once; the others that fail
            # it for the same reason are folded into one line when the step finishes.
            if not self._folded(event.node, event.host, event.error):
                self._say(f"FAILED {event.node} on {event.host}: {event.error}", "red")
        elif kind is EventKind.RETRIED:
            self._say(
                f"retry {event.node} on {event.host} (attempt {event.attempt} failed: "
                f"{_first_line(event.error)}); {event.detail}",
                "yellow",
            )
        elif kind is EventKind.ROLLED_BACK:
            self._say(f"rolled back {event.node} on {event.host}")
        elif kind is EventKind.ROLLBACK_FAILED:
            self._say(f"rollback of {event.node} on {event.host} failed: {event.error}", "red")
        elif kind is EventKind.NODE_FINISHED and event.node is not None:
            for failure in self.state.node_failures.get(event.node, FailureFolder()).groups():
                if len(failure.hosts) > 1:
                    self._say(
                        f"FAILED {event.node} on {len(failure.hosts) - 1} more hosts for the same "
                        f"reason: {host_list(failure.hosts[1:])}",
                        "red",
                    )
            took = f" in {event.duration:.1f}s" if event.duration is not None else ""
            self._say(f"{event.node}: {_tally(event.data)}{took}")
