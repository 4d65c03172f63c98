"""`kubexms exec`'s typer declaration; the command itself is kubexms.cli._exec_run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kubexms.cli._exec_run import DEFAULT_CONCURRENCY as DEFAULT_CONCURRENCY
from kubexms.cli._exec_run import ExecOutput, ExecRequest, run_exec
from kubexms.cli._exec_run import HostOutcome as HostOutcome
from kubexms.cli._exec_run import command_line as command_line
from kubexms.cli._exec_run import fan_out as fan_out
from kubexms.cli._exec_run import group_outcomes as group_outcomes
from kubexms.cli._exec_run import render_json as render_json
from kubexms.cli._exec_run import render_text as render_text
from kubexms.cli._exec_run import select_hosts as select_hosts


def exec_command(
    command: Annotated[
        list[str],
        typer.Argument(
            help="The command, after --. One argument is a shell command line "
            "(\"kubexms exec -- 'systemctl status x | head'\"); several are one command and "
            "its arguments, each quoted as typed (\"kubexms exec -- sh -c 'a; b'\").",
            show_default=False,
        ),
    ],
    file: Annotated[
        Path | None,
        typer.Option("--file", "-f", help="Cluster file. Default: this machine, locally."),
    ] = None,
    role: Annotated[
        str | None, typer.Option("--role", help="Only hosts in this role group.")
    ] = None,
    hosts: Annotated[
        str | None, typer.Option("--hosts", help="Comma-separated host names (default: all).")
    ] = None,
    sudo: Annotated[bool, typer.Option("--sudo", help="Run the command as root.")] = False,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, help="Hosts worked on at once.")
    ] = DEFAULT_CONCURRENCY,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", min=0.1, help="Seconds per host (default: commandTimeout)."),
    ] = None,
    output: Annotated[ExecOutput, typer.Option("--output", "-o")] = ExecOutput.text,
) -> None:
    """Run COMMAND on many hosts at once; outputs grouped per host, identical ones folded.

    A single argument after -- is run by the host's shell as typed (pipes, ;, globs).
    Several arguments are one command and its arguments: each is quoted, so
    `kubexms exec -- sh -c 'a; b'` runs sh with -c and 'a; b'. --role and --hosts together
    select the hosts that match both. Only the selected hosts are connected to; one that
    cannot be reached is reported with what happened (unreachable, timed out,
    authentication failed, host key changed). Exits 1 if the command failed or could not
    run on any host, and lists those hosts.
    """
    code = run_exec(
        ExecRequest(
            command=tuple(command),
            file=file,
            role=role,
            hosts=hosts,
            sudo=sudo,
            concurrency=concurrency,
            timeout=timeout,
            output=output,
        )
    )
    if code:
        raise typer.Exit(code)
