"""``kubexms create cluster`` and ``kubexms plan create-cluster``: the phases of a cluster.

The ``plan`` group (``plan_app``) is taken from here, so it holds ``create-cluster`` too.
"""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Annotated

import typer

from kubexms.cli._cluster import err_console, load_cluster, open_runtime
from kubexms.cli._pipeline import (
    BreakLockOption,
    ConcurrencyOption,
    ContinueOnErrorOption,
    DownloadOption,
    DryRunOption,
    FileOption,
    ForceOption,
    LogFormat,
    LogFormatOption,
    Output,
    OutputOption,
    PackagesDirOption,
    PlanOutput,
    ResumeOption,
    RetriesOption,
    RunSettings,
    TimezoneOption,
    fail,
    init_os_pipeline,
    load_cluster_for,
    plan_app,
    plan_or_exit,
    report_plan,
    run_pipeline,
)
from kubexms.config import Cluster
from kubexms.engine import Engine, EngineOptions, RetryPolicy, RunRequest, RunResult
from kubexms.pipelines import (
    PHASES,
    CreateClusterPipeline,
    PhaseSelection,
    PhaseSelectionError,
)

PIPELINE = "create-cluster"
OnlyOption = Annotated[
    list[str] | None,
    typer.Option(
        "--only",
        help="Run only these phases (comma-separated or repeated) and what they depend on, "
        "limited to what they need. Phases: " + ", ".join(PHASES) + ".",
    ),
]
SkipOption = Annotated[
    list[str] | None,
    typer.Option("--skip", help="Leave these phases out (you vouch they are done)."),
]


def create_cluster_pipeline(
    cluster: Cluster,
    only: list[str] | None,
    skip: list[str] | None,
    packages_dir: Path | None,
    download: bool,
    timezone: str | None,
    output: Output = Output.text,
) -> CreateClusterPipeline:
    """The pipeline for these options; a bad phase selection ends the command (exit 2)
    before anything connects."""
    try:
        selection = PhaseSelection.choose(only or (), skip or ())
    except PhaseSelectionError as error:
        fail(output, "usage", str(error), pipeline=PIPELINE, exit_code=2)
    os_options = init_os_pipeline(cluster, packages_dir, download, timezone, output).options
    pipeline = CreateClusterPipeline(selection, os_options)
    for warning in pipeline.warnings(cluster):
        err_console.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
    return pipeline


def create_cluster(
    file: FileOption,
    only: OnlyOption = None,
    skip: SkipOption = None,
    dry_run: DryRunOption = False,
    resume: ResumeOption = False,
    force: ForceOption = False,
    continue_on_error: ContinueOnErrorOption = False,
    break_lock: BreakLockOption = False,
    packages_dir: PackagesDirOption = None,
    download_packages: DownloadOption = False,
    timezone: TimezoneOption = None,
    concurrency: ConcurrencyOption = None,
    retries: RetriesOption = 2,
    output: OutputOption = Output.text,
    log_format: LogFormatOption = LogFormat.console,
) -> None:
    """Create the cluster: its phases in order (preflight, os, artifacts, pki, etcd, ...).

    Every step is skipped where the host already has what it makes, so a rerun changes
    nothing. Until every phase exists, run the ones that do with --only (e.g. --only etcd).
    """
    cluster = load_cluster_for(file, output, PIPELINE)
    pipeline = create_cluster_pipeline(
        cluster, only, skip, packages_dir, download_packages, timezone, output
    )
    graph = plan_or_exit(pipeline, cluster, output)
    changes: dict[str, object] = {"retry": RetryPolicy(retries=retries)}
    if concurrency is not None:
        changes["concurrency"] = concurrency
    options = EngineOptions.from_config(cluster, continue_on_error=continue_on_error, **changes)
    command = "kubexms create cluster"
    settings = RunSettings(
        command=command,
        dry_run=dry_run,
        request=RunRequest(command, resume=resume, force=force, break_lock=break_lock),
        options=options,
        output=output,
        log_format=log_format,
    )
    run_pipeline(cluster, graph, settings)


def plan_create_cluster(
    file: FileOption,
    only: OnlyOption = None,
    skip: SkipOption = None,
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
    """The plan of 'kubexms create cluster': phases, tasks, steps and their hosts."""
    cluster = load_cluster(file)
    pipeline = create_cluster_pipeline(
        cluster, only, skip, packages_dir, download_packages, timezone
    )
    graph = plan_or_exit(pipeline, cluster)
    if not check:
        report_plan(graph, None, output.value)
        return
    run_id = secrets.token_hex(6)
    engine_options = EngineOptions.from_config(cluster)

    async def dry() -> RunResult:
        async with await open_runtime(cluster) as runtime:
            return await Engine(runtime, engine_options, run_id=run_id).dry_run(graph)

    result = asyncio.run(dry())
    report_plan(graph, result, output.value)
    if not result.succeeded:
        raise typer.Exit(1)


# ``kubexms plan`` is declared here so that it has every plan, this one included.
plan_app.command("create-cluster")(plan_create_cluster)
