"""Commands that run pipelines (``kubexms init os``) and show plans (``kubexms plan``).

Every run: plan (a PlanError fails the command before anything connects), connect, lock the
hosts, execute with a checkpoint, and report through one event stream: a live view on a
terminal (plain lines otherwise), a JSON-lines log in the work dir, and a summary table (or
JSON with ``-o json``). ``--log-format json`` streams the events as JSON lines to stdout.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.markup import escape

from kubexms._errors import KubexmsError
from kubexms.cli._cluster import err_console, load_cluster, open_runtime
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
    RetryPolicy,
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
from kubexms.hostprep import OSPrepOptions, PackageSource
from kubexms.pipelines import InitOSPipeline
from kubexms.runtime import ClusterRuntime, InitializationError, new_runtime

init_app = typer.Typer(help="Prepare hosts for Kubernetes.", no_args_is_help=True)
plan_app = typer.Typer(
    help="Show what a command would do (modules, tasks, steps, hosts); change nothing.",
    no_args_is_help=True,
)


class Output(StrEnum):
    text = "text"
    json = "json"


class PlanOutput(StrEnum):
    tree = "tree"
    json = "json"


class LogFormat(StrEnum):
    console = "console"
    json = "json"


FileOption = Annotated[
    Path, typer.Option("--file", "-f", help="The cluster file.", show_default=False)
]
PackagesDirOption = Annotated[
    Path | None,
    typer.Option(
        "--packages-dir",
        help="Install OS packages offline from the .deb/.rpm files in this directory on this "
        "machine (every package there not yet on a host is installed). Overrides the cluster "
        "file's spec.osPackages (default: auto, the hosts' repositories or else packages "
        "carried from this machine).",
    ),
]
DownloadOption = Annotated[
    bool,
    typer.Option(
        "--download-packages",
        help="First apt-get download the packages and their dependencies on this machine "
        "(into --packages-dir, spec.osPackages.dir, or <workDir>/packages/deb), then install "
        "them offline on every host. Overrides spec.osPackages.",
    ),
]
TimezoneOption = Annotated[
    str | None,
    typer.Option("--timezone", help="Set every host's timezone (e.g. UTC); default: leave it."),
]

DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Print the plan and what would change; change nothing.")
]
ResumeOption = Annotated[
    bool, typer.Option("--resume", help="Continue a failed run, skipping completed steps.")
]
ForceOption = Annotated[
    bool, typer.Option("--force", help="With --resume: resume even if the config changed.")
]
ContinueOnErrorOption = Annotated[
    bool, typer.Option("--continue-on-error", help="Keep going on healthy hosts after a failure.")
]
BreakLockOption = Annotated[
    bool, typer.Option("--break-lock", help="Take over host locks left by a run that is gone.")
]
ConcurrencyOption = Annotated[
    int | None,
    typer.Option("--concurrency", min=1, help="Hosts worked on at once (default: config)."),
]
RetriesOption = Annotated[
    int, typer.Option("--retries", min=0, help="Retries after a lost connection or timeout.")
]
OutputOption = Annotated[Output, typer.Option("--output", "-o", help="text or json.")]
LogFormatOption = Annotated[
    LogFormat,
    typer.Option("--log-format", help="json: stream the run's events to stdout as JSON lines."),
]


def init_os_pipeline(
    cluster: Cluster,
    packages_dir: Path | None,
    download: bool,
    timezone: str | None,
    output: Output = Output.text,
) -> InitOSPipeline:
    """The init-os pipeline for these options. Packages come from where the cluster file's
    ``spec.osPackages`` says (default ``auto``); the flags override it."""
    if packages_dir is not None and not download and not packages_dir.is_dir():
        message = f"--packages-dir {packages_dir} is not a directory"
        fail(output, "usage", message, pipeline="init-os", exit_code=2)
    configured = cluster.spec.os_packages
    source = PackageSource.choose(
        configured.source,
        configured.directory,
        cluster.work_dir,
        packages_dir=packages_dir,
        download=download,
    )
    return InitOSPipeline(OSPrepOptions(packages=source, timezone=timezone))


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


def _report_plan(graph: ExecutionGraph, result: RunResult | None, output: str) -> None:
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
            _report_plan(graph, result, "tree")
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


def init_os(
    file: FileOption,
    dry_run: DryRunOption = False,
    resume: ResumeOption = False,
    force: ForceOption = False,
    continue_on_error: ContinueOnErrorOption = False,
    break_lock: BreakLockOption = False,
    packages_dir: PackagesDirOption = None,
    download_packages: DownloadOption = False,
    timezone: TimezoneOption = None,
    concurrency: ConcurrencyOption = None,
    upload_concurrency: Annotated[
        int | None, typer.Option("--upload-concurrency", min=1, help="Uploads at once.")
    ] = None,
    retries: RetriesOption = 2,
    output: OutputOption = Output.text,
    log_format: LogFormatOption = LogFormat.console,
) -> None:
    """Check every host (preflight) and prepare its OS for Kubernetes.

    Hostname, /etc/hosts, swap off, kernel modules, sysctl, OS packages and timezone; each
    step is skipped where the host already has it, so running it again changes nothing.
    """
    cluster = load_cluster_for(file, output, "init-os")
    graph = plan_or_exit(
        init_os_pipeline(cluster, packages_dir, download_packages, timezone, output),
        cluster,
        output,
    )
    changes: dict[str, object] = {"retry": RetryPolicy(retries=retries)}
    if concurrency is not None:
        changes["concurrency"] = concurrency
    if upload_concurrency is not None:
        changes["upload_concurrency"] = upload_concurrency
    options = EngineOptions.from_config(cluster, continue_on_error=continue_on_error, **changes)
    settings = RunSettings(
        command="kubexms init os",
        dry_run=dry_run,
        request=RunRequest("kubexms init os", resume=resume, force=force, break_lock=break_lock),
        options=options,
        output=output,
        log_format=log_format,
    )
    run_pipeline(cluster, graph, settings)


def plan_init_os(
    file: FileOption,
    output: Annotated[PlanOutput, typer.Option("--output", "-o", help="tree or json.")] = (
        PlanOutput.tree
    ),
    check: Annotated[
        bool,
        typer.Option("--check", help="Connect and run the prechecks: show what would change."),
    ] = False,
    packages_dir: PackagesDirOption = None,
    download_packages: DownloadOption = False,
    timezone: TimezoneOption = None,
) -> None:
    """The plan of 'kubexms init os': modules, tasks, steps and their hosts."""
    cluster = load_cluster(file)
    graph = plan_or_exit(
        init_os_pipeline(cluster, packages_dir, download_packages, timezone), cluster
    )
    if not check:
        _report_plan(graph, None, output.value)
        return
    run_id = secrets.token_hex(6)
    engine_options = EngineOptions.from_config(cluster)

    async def dry() -> RunResult:
        async with await open_runtime(cluster) as runtime:
            return await Engine(runtime, engine_options, run_id=run_id).dry_run(graph)

    result = asyncio.run(dry())
    _report_plan(graph, result, output.value)
    if not result.succeeded:
        raise typer.Exit(1)


init_app.command("os")(init_os)
plan_app.command("init-os")(plan_init_os)
