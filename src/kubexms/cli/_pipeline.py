"""``kubexms init os`` and ``kubexms plan init-os``, and the options of pipeline commands.

Running the planned pipeline (connect, lock, execute, report) is kubexms.cli._run.
"""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Annotated

import typer

from kubexms.cli._cluster import load_cluster, open_runtime
from kubexms.cli._run import LogFormat as LogFormat
from kubexms.cli._run import Output as Output
from kubexms.cli._run import PlanOutput as PlanOutput
from kubexms.cli._run import RunSettings as RunSettings
from kubexms.cli._run import fail as fail
from kubexms.cli._run import load_cluster_for as load_cluster_for
from kubexms.cli._run import plan_or_exit as plan_or_exit
from kubexms.cli._run import report_plan as report_plan
from kubexms.cli._run import run_pipeline as run_pipeline
from kubexms.config import Cluster
from kubexms.engine import (
    Engine,
    EngineOptions,
    RetryPolicy,
    RunRequest,
    RunResult,
)
from kubexms.hostprep import OSPrepOptions, PackageSource
from kubexms.pipelines import InitOSPipeline

init_app = typer.Typer(help="Prepare hosts for Kubernetes.", no_args_is_help=True)
plan_app = typer.Typer(
    help="Show what a command would do (modules, tasks, steps, hosts); change nothing.",
    no_args_is_help=True,
)


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


init_app.command("os")(init_os)
plan_app.command("init-os")(plan_init_os)
