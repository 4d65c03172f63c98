"""`kubexms sandbox up N | down | status`: a simulated fleet of hosts on this machine."""

from __future__ import annotations

import asyncio
import os
import shlex
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from kubexms.sandbox import (
    DEFAULT_DIRECTORY,
    MAX_HOSTS,
    Fleet,
    FleetStatus,
    SandboxError,
    fleet_down,
    fleet_status,
    fleet_up,
)

app = typer.Typer(
    help="A fleet of simulated hosts on this machine, to rehearse a deploy (needs root).",
    no_args_is_help=True,
)


class InitChoice(StrEnum):
    systemd = "systemd"
    minimal = "minimal"


DirectoryOption = Annotated[
    Path,
    typer.Option(
        "--dir",
        help="Where the fleet's cluster.yaml, keys and state live.",
        show_default=str(DEFAULT_DIRECTORY),
    ),
]


def _out() -> Console:
    return Console(highlight=False, soft_wrap=True)


def _fail(message: str, code: int = 1) -> typer.Exit:
    Console(stderr=True, highlight=False, soft_wrap=True).print(f"[bold red]{escape(message)}[/]")
    return typer.Exit(code)


def _require_root() -> None:
    if os.geteuid() != 0:
        raise _fail(
            "kubexms sandbox needs root (it creates network namespaces, mounts and bridges); "
            "run it as root, e.g. with sudo."
        )


def _summary(fleet: Fleet, seconds: float) -> None:
    console = _out()
    kind = fleet.hosts[0].init if fleet.hosts else "?"
    console.print(
        f"[bold green]{len(fleet.hosts)} {kind} hosts up[/] in {seconds:.1f} s on {fleet.subnet}."
    )
    console.print(f"  cluster file : {escape(str(fleet.cluster_file))}")
    console.print(f"  client key   : {escape(str(fleet.private_key_path))}")
    console.print(f"  known_hosts  : {escape(str(fleet.known_hosts_path))}")
    console.print(
        f"  passwords    : root and deployer, in {escape(str(fleet.directory / 'fleet.json'))}"
    )
    first = fleet.hosts[0]
    ssh = shlex.join(
        [
            "ssh",
            "-i",
            str(fleet.private_key_path),
            "-o",
            f"UserKnownHostsFile={fleet.known_hosts_path}",
            f"root@{first.address}",
        ]
    )
    directory = shlex.quote(str(fleet.directory))
    console.print(f"Log in:    {escape(ssh)}")
    console.print(f"Use it:    kubexms facts -f {escape(shlex.quote(str(fleet.cluster_file)))}")
    console.print(f"Remove it: kubexms sandbox down --dir {escape(directory)}")


@app.command("up")
def up(
    count: Annotated[
        int, typer.Argument(help=f"How many hosts (1..{MAX_HOSTS}).", show_default=False)
    ],
    directory: DirectoryOption = DEFAULT_DIRECTORY,
    init: Annotated[
        InitChoice | None,
        typer.Option(
            "--init",
            help="systemd: systemd as PID 1 (systemctl works); minimal: tini + sshd. "
            "Default: systemd where this machine can run it.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Start COUNT hosts and write cluster.yaml, the client key and known_hosts to --dir."""
    _require_root()
    started = time.monotonic()
    try:
        fleet = asyncio.run(
            fleet_up(count, directory, init=init.value if init is not None else None)
        )
    except SandboxError as error:
        raise _fail(str(error)) from None
    except KeyboardInterrupt:
        raise _fail("interrupted; the hosts started so far were removed", 130) from None
    _summary(fleet, time.monotonic() - started)


@app.command("down")
def down(directory: DirectoryOption = DEFAULT_DIRECTORY) -> None:
    """Stop the fleet in --dir and remove everything it made (idempotent)."""
    _require_root()
    recorded = (directory.expanduser() / "fleet.json").exists()
    try:
        asyncio.run(fleet_down(directory))
    except SandboxError as error:
        raise _fail(str(error)) from None
    where = escape(str(directory.expanduser()))
    _out().print(f"Fleet in {where} removed." if recorded else f"No fleet in {where}.")


def _status_table(status: FleetStatus) -> Table:
    table = Table(title=f"{status.init} fleet in {escape(str(status.directory))} ({status.subnet})")
    table.add_column("host")
    table.add_column("address")
    table.add_column("pid", justify="right")
    table.add_column("init")
    table.add_column("sshd")
    for host in status.hosts:
        table.add_row(
            host.name,
            host.address,
            str(host.pid) if host.pid is not None else "-",
            "[green]running[/]" if host.alive else "[red]gone[/]",
            "[green]open[/]" if host.ssh_open else "[red]closed[/]",
        )
    return table


@app.command("status")
def status(directory: DirectoryOption = DEFAULT_DIRECTORY) -> None:
    """Show each host of the fleet in --dir; exit 1 unless all run and accept SSH."""
    _require_root()
    try:
        result = fleet_status(directory)
    except SandboxError as error:
        raise _fail(str(error)) from None
    _out().print(_status_table(result))
    if not result.healthy:
        raise typer.Exit(1)
