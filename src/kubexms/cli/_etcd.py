"""``kubexms etcd status | backup | restore``: operate the etcd cluster kubexms installed.

status reads (through the Runtime, etcdctl run on the members); backup and restore change
things, so they run as Engine pipelines (events, run log, checkpoint, --resume).
"""

from __future__ import annotations

import asyncio
import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from kubexms.cli._cluster import err_console, load_cluster, open_runtime
from kubexms.cli._console import output_console
from kubexms.cli._pipeline import (
    DryRunOption,
    LogFormat,
    Output,
    RunSettings,
    plan_or_exit,
    run_pipeline,
)
from kubexms.config import Cluster
from kubexms.engine import EngineOptions, RunRequest
from kubexms.etcd._backup import (
    BackupError,
    BackupPipeline,
    backup_file_name,
    backup_stamp,
    read_record,
)
from kubexms.etcd._restore import (
    PendingRestore,
    RestorePipeline,
    SnapshotInfo,
    check_local_snapshot,
    new_restore_id,
    unstage,
    verify_on_host,
)
from kubexms.etcd._status import (
    MemberStatus,
    cluster_status,
    etcd_hosts_only,
    unreachable_rows,
)
from kubexms.runtime import InitializationError, new_runtime

app = typer.Typer(
    help="Operate the etcd kubexms installed: status, backup, restore.", no_args_is_help=True
)

FileOption = Annotated[
    Path, typer.Option("--file", "-f", help="The cluster file.", show_default=False)
]
OutputOption = Annotated[Output, typer.Option("--output", "-o", help="text or json.")]
LogFormatOption = Annotated[
    LogFormat,
    typer.Option("--log-format", help="json: stream the run's events to stdout as JSON lines."),
]


class StatusOutput(StrEnum):
    table = "table"
    json = "json"


def _fail(message: str, code: int = 1) -> typer.Exit:
    err_console.print(f"[red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _kubexm_etcd(cluster: Cluster, command: str) -> None:
    etcd = cluster.spec.etcd
    if etcd.type != "kubexm":
        raise _fail(
            f"kubexms etcd {command} works on the etcd kubexms installs (spec.etcd.type: "
            f"kubexm); this cluster's is {etcd.type}"
        )
    if not cluster.hosts_with_role("etcd"):
        raise _fail("spec.roleGroups.etcd names no host: there is no etcd to work on")


def _size(value: int | None) -> str:
    if value is None:
        return "-"
    size = float(value)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return str(value)


def _status_table(cluster: Cluster, rows: list[MemberStatus]) -> Table:
    table = Table(title=f"etcd of cluster {cluster.name}", title_justify="left")
    for column in ("member", "endpoint", "version", "db size", "leader", "raft index", "health"):
        table.add_column(column, no_wrap=column != "endpoint", overflow="fold")
    table.add_column("error", overflow="fold")
    for row in rows:
        health = "[green]healthy[/]" if row.healthy else "[red]unhealthy[/]"
        table.add_row(
            escape(row.name),
            escape(row.endpoint),
            escape(row.version or "-"),
            _size(row.db_size),
            "yes" if row.is_leader else ("-" if row.member_id is None else "no"),
            "-" if row.raft_index is None else str(row.raft_index),
            health,
            escape(row.error or ""),
        )
    return table


async def _status_rows(cluster: Cluster) -> list[MemberStatus]:
    cluster = etcd_hosts_only(cluster)
    try:
        runtime = await new_runtime(cluster, allow_unreachable=True)
    except InitializationError as error:
        return unreachable_rows(cluster, {cause.host: str(cause) for cause in error.errors})
    async with runtime:
        return await cluster_status(runtime)


@app.command("status")
def status(
    file: FileOption,
    output: Annotated[
        StatusOutput, typer.Option("--output", "-o", help="table or json.")
    ] = StatusOutput.table,
) -> None:
    """Each member's endpoint, version, database size, leader, raft index and health.

    etcdctl runs on the members over TLS; a member that cannot be asked is a row saying why.
    Exits 1 when any member is not healthy.
    """
    cluster = load_cluster(file)
    _kubexm_etcd(cluster, "status")
    rows = asyncio.run(_status_rows(cluster))
    healthy = all(row.healthy for row in rows)
    if output is StatusOutput.json:
        document = {
            "cluster": cluster.name,
            "healthy": healthy,
            "members": [row.as_dict() for row in rows],
        }
        typer.echo(json.dumps(document, indent=2))
    else:
        output_console().print(_status_table(cluster, rows))
    if not healthy:
        bad = ", ".join(row.name for row in rows if not row.healthy)
        err_console.print(f"[red]unhealthy:[/] {escape(bad)}", highlight=False)
        raise typer.Exit(1)


def _settings(
    cluster: Cluster,
    command: str,
    output: Output,
    log_format: LogFormat,
    *,
    resume: bool,
    tolerate_unreachable: bool = False,
    dry_run: bool = False,
) -> RunSettings:
    # A backup needs one healthy member, not every host: it goes on without unreachable ones
    # (its only steps run on the control machine). A restore needs every member.
    options = EngineOptions.from_config(cluster, continue_on_error=tolerate_unreachable)
    return RunSettings(
        command=command,
        dry_run=dry_run,
        request=RunRequest(command, resume=resume),
        options=options,
        output=output,
        log_format=log_format,
    )


@app.command("backup")
def backup(
    file: FileOption,
    directory: Annotated[
        Path | None,
        typer.Option("--dir", help="Where the snapshot goes. Default: <workDir>/backups."),
    ] = None,
    keep: Annotated[
        int | None,
        typer.Option(
            "--keep", min=1, help="Then delete all but the newest N backups of this cluster there."
        ),
    ] = None,
    dry_run: DryRunOption = False,
    output: OutputOption = Output.text,
    log_format: LogFormatOption = LogFormat.console,
) -> None:
    """A snapshot from a healthy member, copied to this machine.

    Beside it, <snapshot>.json records its sha256 and etcd's snapshot status (revision, keys,
    size). --keep N then deletes all but the newest N backups of this cluster there.
    --dry-run shows the snapshot it would take and the backups --keep would delete, and
    writes and deletes nothing.
    """
    cluster = load_cluster(file)
    _kubexm_etcd(cluster, "backup")
    target_dir = (directory or cluster.work_dir / "backups").expanduser().absolute()
    name = backup_file_name(cluster.name, backup_stamp())
    # Only the etcd hosts are connected to: a backup concerns no other host.
    cluster = etcd_hosts_only(cluster)
    graph = plan_or_exit(BackupPipeline(target_dir, name, keep), cluster)
    settings = _settings(
        cluster,
        "kubexms etcd backup",
        output,
        log_format,
        resume=False,
        tolerate_unreachable=True,
        dry_run=dry_run,
    )
    run_pipeline(cluster, graph, settings)
    record = None if dry_run else read_record(target_dir / name)
    if record is not None:
        # stdout carries exactly the run's JSON with -o json; the backup's name then goes to
        # stderr, so a script still learns it.
        machine = output is Output.json or log_format is LogFormat.json
        console = err_console if machine else output_console()
        console.print(
            f"backup: {target_dir / name}\n  from {record.member}, revision {record.revision}, "
            f"{record.total_keys} keys, {record.total_size} bytes, sha256 {record.sha256}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


async def _verify(cluster: Cluster, snapshot: Path, sha256: str) -> SnapshotInfo:
    async with await open_runtime(etcd_hosts_only(cluster), allow_unreachable=True) as runtime:
        return await verify_on_host(runtime, snapshot, sha256)


async def _unstage(cluster: Cluster, sha256: str) -> None:
    async with await open_runtime(etcd_hosts_only(cluster), allow_unreachable=True) as runtime:
        await unstage(runtime, sha256)


@app.command("restore")
def restore(
    file: FileOption,
    snapshot: Annotated[
        Path, typer.Option("--snapshot", help="The snapshot file (from kubexms etcd backup).")
    ],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue an interrupted restore from its checkpoint.")
    ] = False,
    dry_run: DryRunOption = False,
    output: OutputOption = Output.text,
    log_format: LogFormatOption = LogFormat.console,
) -> None:
    """Replace the data of every member with a snapshot.

    The snapshot is checked first (its recorded sha256, and etcd reading it on a member).
    Then the API server (where installed) and etcd stop on every host, each data dir is kept
    aside as <dataDir>.kubexms-<time>, every member is restored with its own name and peer
    URL, started, and waited for until healthy. Interrupted, the same command finishes it.
    --dry-run checks the snapshot the same way, then shows per member what the restore would
    do (stop, the name the data dir is kept under, the restore's member name and peer URLs,
    start) and changes nothing (the copy etcd read is removed again).
    """
    cluster = load_cluster(file)
    _kubexm_etcd(cluster, "restore")
    snapshot = snapshot.expanduser().absolute()
    try:
        sha256, recorded = check_local_snapshot(snapshot)
        info = asyncio.run(_verify(cluster, snapshot, sha256))
    except BackupError as error:
        raise _fail(str(error)) from None
    if dry_run:
        asyncio.run(_unstage(cluster, sha256))  # a dry run leaves nothing on the hosts
    pending = PendingRestore.read(cluster.work_dir)
    members = ", ".join(host.name for host in cluster.hosts_with_role("etcd"))
    vouched = "matches its recorded sha256" if recorded else "has no recorded sha256 to check"
    err_console.print(
        f"snapshot {snapshot}: revision {info.revision}, {info.total_keys} keys, "
        f"{info.total_size} bytes; it {vouched}",
        markup=False,
        highlight=False,
    )
    if pending is not None and pending.sha256 == sha256:
        restore_id = pending.restore_id
        err_console.print(f"continuing the interrupted restore {restore_id}", highlight=False)
    else:
        if pending is not None:
            err_console.print(
                f"[yellow]warning:[/] the restore {pending.restore_id} of {pending.snapshot} "
                "did not finish; this one replaces it",
                highlight=False,
            )
        restore_id = new_restore_id()
    # The restore works on the etcd hosts and the masters (the API server); workers may be down.
    working = etcd_hosts_only(cluster, "master")
    graph = plan_or_exit(RestorePipeline(snapshot, sha256, restore_id), working)
    if dry_run:
        settings = _settings(
            working, "kubexms etcd restore", output, log_format, resume=False, dry_run=True
        )
        run_pipeline(working, graph, settings)
        return
    if not yes:
        question = (
            f"Stop etcd on {members} and replace its data with this snapshot? "
            f"(the current data dirs are kept as {cluster.spec.etcd.data_dir}.kubexms-{restore_id})"
        )
        if not typer.confirm(question, err=True):
            asyncio.run(_unstage(cluster, sha256))
            err_console.print("nothing changed", highlight=False)
            raise typer.Exit(1)
    PendingRestore(restore_id, sha256, str(snapshot)).write(cluster.work_dir)
    settings = _settings(working, "kubexms etcd restore", output, log_format, resume=resume)
    run_pipeline(working, graph, settings)
    PendingRestore.clear(cluster.work_dir)
    rows = asyncio.run(_status_rows(cluster))
    revisions = sorted({row.revision for row in rows if row.revision is not None})
    if output is Output.text and log_format is LogFormat.console:
        shown = ", ".join(map(str, revisions)) or "unknown"
        output_console().print(
            f"restored {members} from {snapshot.name}: revision {shown} "
            f"(the snapshot's: {info.revision}); old data dirs kept as "
            f"{cluster.spec.etcd.data_dir}.kubexms-{restore_id}",
            markup=False,
            highlight=False,
        )
