"""Running a planned pipeline: connect, lock, execute with a checkpoint, report, exit.

Every run: plan (a PlanError fails the command before anything connects), connect, lock the
hosts, execute with a checkpoint, and report through one event stream: a live view on a
terminal (plain lines otherwise), a JSON-lines log in the work dir, and a summary table (or
JSON with ``-o json``). ``--log-format json`` streams the events as JSON lines to stdout.
Commands that run pipelines (kubexms.cli._pipeline, _create_cluster, _etcd) share this.
"""

from __future__ import annotations

import json
import secrets
import sys
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import NoReturn

import typer
from rich.markup import escape

from kubexms._errors import KubexmsError
from kubexms.cli._cluster import err_console, load_cluster
from kubexms.cli._config import report_config_error
from kubexms.cli._console import output_console
from kubexms.cli._signals import RunInterruptedError, run_until_signalled
from kubexms.config import Cluster, ConfigError, load_config
from kubexms.engine import (
    CONTROL_HOST,
    CheckpointError,
    Engine,
    EngineOptions,
    EventBus,
    ExecutionGraph,
    HostLockError,
    JsonLinesLog,
    LiveView,
    Pipeline,
    PlainView,
    PlanError,
    RunRequest,
    RunResult,
    RunSummary,
    SummaryCollector,
    plan_document,
    plan_tree,
    run_log_path,
    run_plan,
    summary_table,
)
from kubexms.runtime import ClusterRuntime, InitializationError, new_runtime


class Output(StrEnum):
    text = "text"
    json = "json"


class PlanOutput(StrEnum):
    tree = "tree"
    json = "json"


class LogFormat(StrEnum):
    console = "console"
    json = "json"


def fail(
    output: Output,
    kind: str,
    message: str,
    *,
    pipeline: str,
    exit_code: int = 1,
    summary: RunSummary | None = None,
    reported: bool = False,
) -> NoReturn:
    """End the command: the error on stderr (unless already ``reported`` there), and with
    ``-o json`` also the one JSON document on stdout (the summary so far, ``outcome`` and
    ``error``), so a caller always gets one."""
    if not reported:
        err_console.print(f"error: {message}", highlight=False, markup=False, soft_wrap=True)
    if output is Output.json:
        typer.echo(json.dumps(run_document(pipeline, summary, kind, message, exit_code)))
    raise typer.Exit(exit_code)


def run_document(
    pipeline: str,
    summary: RunSummary | None,
    kind: str | None,
    message: str | None,
    exit_code: int,
) -> dict[str, object]:
    """The ``-o json`` document: the run summary (empty before the run began), the exit code,
    and ``error`` (null, or its kind and message). ``outcome`` is the run's, or ``kind`` when
    the run never started (config, plan, lock, unreachable, checkpoint)."""
    summary = summary if summary is not None else RunSummary(pipeline=pipeline)
    if not summary.pipeline:
        summary.pipeline = pipeline
    document: dict[str, object] = summary.as_dict()
    if kind is not None and summary.outcome == "unknown":
        document["outcome"] = kind
    document["exit_code"] = exit_code
    document["error"] = None if kind is None else {"kind": kind, "message": message}
    return document


def load_cluster_for(file: Path, output: Output, pipeline: str) -> Cluster:
    """The cluster in ``file``; a bad file ends the command (one JSON document with -o json)."""
    if output is not Output.json:
        return load_cluster(file)
    try:
        return load_config(file)
    except ConfigError as error:
        report_config_error(error)
        fail(output, "config", str(error), pipeline=pipeline, reported=True)


def plan_or_exit(
    pipeline: Pipeline, cluster: Cluster, output: Output = Output.text
) -> ExecutionGraph:
    try:
        return pipeline.plan(cluster)
    except PlanError as error:
        fail(output, "plan", f"cannot plan: {error}", pipeline=pipeline.name)


@dataclass(frozen=True, slots=True)
class RunSettings:
    """What the user asked for, for one pipeline run."""

    command: str
    dry_run: bool
    request: RunRequest
    options: EngineOptions
    output: Output
    log_format: LogFormat


def report_plan(graph: ExecutionGraph, result: RunResult | None, output: str) -> None:
    if output == "json":
        typer.echo(json.dumps(plan_document(graph, result), indent=2))
    else:
        output_console().print(plan_tree(graph, result))


class _RunRefusedError(Exception):
    """The run could not start; ``kind`` says why (for the JSON document)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


async def _connect(cluster: Cluster, *, allow_unreachable: bool) -> ClusterRuntime:
    try:
        runtime = await new_runtime(cluster, allow_unreachable=allow_unreachable)
    except InitializationError as error:
        lines = "\n".join(f"  - {cause}" for cause in error.errors)
        raise _RunRefusedError(
            "unreachable",
            f"could not reach {len(error.errors)} of {len(cluster.resolved_hosts())} hosts:"
            f"\n{lines}",
        ) from None
    for cause in runtime.unreachable.values():
        err_console.print(
            f"[yellow]warning:[/] continuing without an unreachable host: {escape(str(cause))}",
            highlight=False,
        )
    return runtime


async def _execute(
    cluster: Cluster,
    graph: ExecutionGraph,
    settings: RunSettings,
    events: EventBus,
    run_id: str,
    unreleased: dict[str, str],
) -> RunResult:
    allow_unreachable = settings.options.continue_on_error
    async with await _connect(cluster, allow_unreachable=allow_unreachable) as runtime:
        if settings.dry_run:
            return await Engine(runtime, settings.options, events, run_id=run_id).dry_run(graph)
        report = await run_plan(
            graph,
            runtime,
            settings.request,
            options=settings.options,
            events=events,
            run_id=run_id,
            work_dir=cluster.work_dir,
            unreleased=unreleased,
        )
    for host, holder in report.broken_locks.items():
        err_console.print(f"broke the stale lock on {host}, held by {holder}", markup=False)
    for host, error in report.unreleased_locks.items():
        err_console.print(
            f"[yellow]warning:[/] the lock on {host} could not be released ({escape(error)}); "
            "the next run there needs --break-lock",
            highlight=False,
        )
    return report.result


def _rerun_advice(unreleased: dict[str, str]) -> str:
    """How to continue: ``--resume``, plus ``--break-lock`` when a lock stayed behind (a
    plain --resume would be refused by it)."""
    if not unreleased:
        return "--resume"
    return f"--resume --break-lock (the lock on {', '.join(sorted(unreleased))} stayed)"


def run_pipeline(cluster: Cluster, graph: ExecutionGraph, settings: RunSettings) -> None:
    """Run (or dry-run) ``graph`` with every consumer of its events; exit 1 on failure."""
    run_id = secrets.token_hex(6)
    log_path = run_log_path(cluster.work_dir, graph.pipeline, run_id)
    log = JsonLinesLog.open(log_path, run_id=run_id)
    hosts = [name for name in graph.hosts() if name != CONTROL_HOST]
    collector = SummaryCollector(hosts)
    events = EventBus(log, collector)
    machine_output = settings.output is Output.json or settings.log_format is LogFormat.json
    view: LiveView | PlainView | None = None
    if settings.log_format is LogFormat.json:
        events.subscribe(JsonLinesLog(sys.stdout, run_id=run_id))
    elif sys.stdout.isatty() and not machine_output:
        view = LiveView(graph, output_console())
    else:
        view = PlainView(graph, output_console(stderr=machine_output))
    if view is not None:
        events.subscribe(view)
    pipeline = graph.pipeline
    unreleased: dict[str, str] = {}  # host -> why its lock could not be released
    try:
        if isinstance(view, LiveView):
            with view:
                result = run_until_signalled(
                    _execute(cluster, graph, settings, events, run_id, unreleased)
                )
        else:
            result = run_until_signalled(
                _execute(cluster, graph, settings, events, run_id, unreleased)
            )
    except (CheckpointError, HostLockError, _RunRefusedError) as error:
        log.close()
        kind = getattr(
            error, "kind", "checkpoint" if isinstance(error, CheckpointError) else "lock"
        )
        summary = collector.summary
        summary.log = str(log_path)
        fail(settings.output, kind, str(error), pipeline=pipeline, summary=summary)
    except RunInterruptedError as interrupt:
        log.close()
        summary = collector.summary
        summary.log = str(log_path)
        summary.outcome = "interrupted"
        if unreleased:
            held = ", ".join(f"{host} ({why})" for host, why in unreleased.items())
            locks = f"the locks on {held} could not be released"
            again = "--resume --break-lock"
        else:
            locks, again = "the host locks released", "--resume"
        message = (
            f"{settings.command} was interrupted by {interrupt.signal_name}; remote commands "
            f"were stopped and {locks}. Run it again with {again} to continue."
        )
        fail(
            settings.output,
            "interrupted",
            message,
            pipeline=pipeline,
            exit_code=interrupt.exit_code,
            summary=summary,
        )
    except KubexmsError as error:
        # Anything else kubexms refused (an error outside the steps): its message, no traceback.
        log.close()
        summary = collector.summary
        summary.log = str(log_path)
        fail(settings.output, "error", str(error), pipeline=pipeline, summary=summary)
    finally:
        log.close()
    summary = collector.summary
    summary.log = str(log_path)
    exit_code = 0 if result.succeeded else 1
    if settings.output is Output.json:
        failure: str | None = None
        if not result.succeeded:
            failed = ", ".join(name for name, host in summary.hosts.items() if host.failed)
            failure = f"{settings.command} failed on {failed}"
        document = run_document(
            pipeline, summary, None if failure is None else "failed", failure, exit_code
        )
        typer.echo(json.dumps(document, indent=None if machine_output else 2))
    elif settings.log_format is not LogFormat.json:
        if settings.dry_run:
            report_plan(graph, result, "tree")
        console = output_console()
        console.print(summary_table(summary))
        for folded in summary.folded_errors():
            console.print(f"[red]{escape(folded.who)}[/]: {escape(folded.text)}", soft_wrap=True)
            if len(folded.hosts) > 1:
                console.print(f"  hosts: {', '.join(folded.hosts)}", markup=False, soft_wrap=True)
        console.print(f"event log: {log_path}", markup=False)
    if not result.succeeded:
        hint = (
            ""
            if settings.dry_run
            else f"; fix the cause and rerun with {_rerun_advice(unreleased)}"
        )
        failed_hosts = [name for name, host in summary.hosts.items() if host.failed]
        failed = ", ".join(failed_hosts) if len(failed_hosts) <= 3 else f"{len(failed_hosts)} hosts"
        err_console.print(
            f"[red]{settings.command} failed on {failed}[/]{hint}", highlight=False, soft_wrap=True
        )
        raise typer.Exit(exit_code)
