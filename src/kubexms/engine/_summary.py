"""The end-of-run summary, built from the event stream: per host, what happened."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.table import Table
from rich.text import Text

from kubexms.engine._events import Event, EventKind
from kubexms.engine._folding import FoldedFailure, fold, host_list

_COUNTED = {
    EventKind.CHANGED: "changed",
    EventKind.UNCHANGED: "unchanged",
    EventKind.SKIPPED: "skipped",
    EventKind.FAILED: "failed",
    EventKind.WOULD_CHANGE: "would_change",
}


@dataclass(slots=True)
class HostSummary:
    """Counts of one host's pairs, its span of work, and its errors (node: message)."""

    changed: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    would_change: int = 0
    retries: int = 0
    first: float | None = None
    last: float | None = None
    errors: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)  # what happened, one per error
    changes: dict[str, str] = field(default_factory=dict)  # dry runs: node -> what would change
    notes: dict[str, str] = field(default_factory=dict)  # node -> a reporting step's result

    @property
    def seconds(self) -> float:
        if self.first is None or self.last is None:
            return 0.0
        return max(0.0, self.last - self.first)

    def as_dict(self) -> dict[str, Any]:
        return {
            "changed": self.changed,
            "unchanged": self.unchanged,
            "skipped": self.skipped,
            "failed": self.failed,
            "would_change": self.would_change,
            "retries": self.retries,
            "seconds": round(self.seconds, 3),
            "errors": list(self.errors),
            "labels": list(self.labels),
            "changes": dict(self.changes),
            "notes": dict(self.notes),
        }


@dataclass(slots=True)
class RunSummary:
    """What a run did, host by host."""

    pipeline: str = ""
    run_id: str = ""
    dry_run: bool = False
    outcome: str = "unknown"
    duration: float = 0.0
    hosts: dict[str, HostSummary] = field(default_factory=dict)
    log: str | None = None

    def folded_errors(self) -> list[FoldedFailure]:
        """Each distinct error ("step: message") once, with every host it happened on."""
        return fold([(name, error) for name, host in self.hosts.items() for error in host.errors])

    def as_dict(self) -> dict[str, Any]:
        """The ``-o json`` document."""
        return {
            "pipeline": self.pipeline,
            "run": self.run_id,
            "dry_run": self.dry_run,
            "outcome": self.outcome,
            "seconds": round(self.duration, 3),
            "failed_hosts": [name for name, host in self.hosts.items() if host.failed],
            "hosts": {name: host.as_dict() for name, host in self.hosts.items()},
            "errors": [
                {"error": failure.text, "hosts": failure.hosts} for failure in self.folded_errors()
            ],
            "log": self.log,
        }


class SummaryCollector:
    """An event sink that keeps the per-host tallies."""

    def __init__(self, hosts: list[str] | None = None) -> None:
        self.summary = RunSummary()
        for name in hosts or []:
            self.summary.hosts[name] = HostSummary()

    def __call__(self, event: Event) -> None:
        summary = self.summary
        if event.kind is EventKind.RUN_STARTED and event.data:
            summary.pipeline = str(event.data.get("pipeline", ""))
            summary.run_id = str(event.data.get("run", ""))
            summary.dry_run = bool(event.data.get("dry_run", False))
            return
        if event.kind is EventKind.RUN_FINISHED:
            summary.outcome = str((event.data or {}).get("outcome", "unknown"))
            summary.duration = event.duration or 0.0
            return
        if event.host is None:
            return
        host = summary.hosts.get(event.host)
        if host is None:
            host = summary.hosts[event.host] = HostSummary()
        if event.kind is EventKind.STARTED:
            host.first = event.time if host.first is None else min(host.first, event.time)
            return
        if event.kind is EventKind.RETRIED:
            host.retries += 1
            return
        name = _COUNTED.get(event.kind)
        if name is None:
            return
        setattr(host, name, getattr(host, name) + 1)
        if event.kind is not EventKind.SKIPPED:
            host.last = event.time if host.last is None else max(host.last, event.time)
        if event.kind is EventKind.WOULD_CHANGE and event.node is not None:
            host.changes[event.node] = event.detail
        if event.note:
            host.notes[event.node or ""] = event.note
        if event.kind is EventKind.FAILED:
            # Errors name their host already; here the host is the row, so say it once.
            error = event.error.removeprefix(f"{event.host}: ")
            host.errors.append(f"{event.node}: {error}")
            host.labels.append(event.error_label or "failed")


def _short(text: str, limit: int = 100) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def summary_notes(summary: RunSummary) -> list[str]:
    """What reporting steps found, one line each: ``host: module/task/step: note`` (the
    pipeline's name, in the title already, left out)."""
    return [
        f"{name}: {node.partition('/')[2] or node}: {note}"
        for name, host in summary.hosts.items()
        for node, note in host.notes.items()
    ]


def summary_table(summary: RunSummary) -> Table:
    """The final table: one row per host; under it, what reporting steps found (a Helm
    release's status)."""
    verb = "would change" if summary.dry_run else "changed"
    notes = summary_notes(summary)
    table = Table(
        title=f"{summary.pipeline}: {summary.outcome} in {summary.duration:.1f}s",
        title_justify="left",
        caption=Text("\n".join(notes)) if notes else None,
        caption_justify="left",
    )
    table.add_column("host")
    for column in ("ok", verb, "failed", "skipped"):
        table.add_column(column, justify="right")
    table.add_column("time", justify="right")
    table.add_column("what happened")
    table.add_column("first error", overflow="fold")
    # Hosts that failed alike (same counts, same first error) share one row.
    rows: dict[tuple[object, ...], list[str]] = {}
    for name, host in summary.hosts.items():
        changed = host.would_change if summary.dry_run else host.changed
        first = host.errors[0] if host.errors else ""
        key: tuple[object, ...] = (host.unchanged, changed, host.failed, host.skipped, first)
        rows.setdefault(key if first else (name,), []).append(name)
    for names in rows.values():
        host = summary.hosts[names[0]]
        changed = host.would_change if summary.dry_run else host.changed
        seconds = max(summary.hosts[name].seconds for name in names)
        label = names[0] if len(names) == 1 else f"{len(names)} hosts: {host_list(names, 3)}"
        table.add_row(
            label,
            str(host.unchanged),
            str(changed),
            Text(str(host.failed), style="red" if host.failed else ""),
            str(host.skipped),
            f"{seconds:.1f}s",
            Text(host.labels[0] if host.labels else "", style="red"),
            Text(_short(host.errors[0]) if host.errors else "", style="red"),
        )
    return table
