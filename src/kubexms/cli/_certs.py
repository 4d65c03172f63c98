"""`kubexms certs`: make the cluster's PKI on this machine, and tell when certificates expire."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from kubexms._errors import error_label
from kubexms.cli._cluster import err_console, load_cluster
from kubexms.cli._console import output_console
from kubexms.cli._exec import select_hosts
from kubexms.config import Cluster, ResolvedHost
from kubexms.connector import ConnectorError
from kubexms.pki import (
    Action,
    Authorities,
    CertificateExpiry,
    PkiError,
    PkiReport,
    default_pki_directory,
    generate_pki,
    host_expirations,
    local_authorities,
    local_expirations,
)
from kubexms.runtime import reach_hosts

app = typer.Typer(
    help="Certificates: generate the cluster's PKI, check when certificates expire.",
    no_args_is_help=True,
)

FileOption = Annotated[
    Path | None,
    typer.Option("--file", "-f", help="Cluster file. Default: this machine, locally."),
]
DirOption = Annotated[
    Path | None,
    typer.Option("--dir", help="PKI directory. Default: <work dir>/pki of the cluster."),
]

_ACTION_STYLE = {Action.created: "green", Action.regenerated: "yellow", Action.kept: "dim"}


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


def _fail(message: str, code: int = 1) -> typer.Exit:
    err_console.print(f"[red]error:[/] {escape(message)}", highlight=False)
    return typer.Exit(code)


def _generate_table(report: PkiReport) -> Table:
    table = Table(title=f"PKI in {report.directory}", title_justify="left")
    table.add_column("item", overflow="fold")
    table.add_column("action", no_wrap=True)
    table.add_column("expires", no_wrap=True)
    table.add_column("why", overflow="fold")
    for entry in report.entries:
        style = _ACTION_STYLE[entry.action]
        expires = entry.expires.strftime("%Y-%m-%d") if entry.expires else "-"
        why = "; ".join(entry.reasons or entry.notes)
        table.add_row(escape(entry.name), f"[{style}]{entry.action}[/]", expires, escape(why))
    return table


@app.command("generate")
def generate(file: FileOption = None, directory: DirOption = None) -> None:
    """Write the cluster's CAs, certificates, keys and kubeconfigs on this machine.

    Existing items that still fit the cluster file are kept; one that is missing, unreadable,
    expiring within renewBeforeDays, whose SANs or subject no longer match, or whose CA
    changed is regenerated, and the table says why.
    """
    cluster = load_cluster(file)
    try:
        report = generate_pki(cluster, directory)
    except PkiError as error:
        raise _fail(str(error)) from None
    output_console().print(_generate_table(report))
    counts = ", ".join(f"{len(report.with_action(action))} {action}" for action in Action)
    typer.echo(f"{counts} in {report.directory}")


async def _check_hosts(
    cluster: Cluster, hosts: Sequence[ResolvedHost], authorities: Authorities
) -> tuple[list[CertificateExpiry], dict[str, str]]:
    """Each host's certificates, read concurrently; hosts that could not be asked, with why.

    ``authorities``: the local CAs, to name the CA of each host certificate.
    """
    found: list[CertificateExpiry] = []
    failed: dict[str, str] = {}
    # Only these hosts are connected to, through the Runtime; one that cannot be reached is
    # listed with what happened (unreachable, timed out, authentication failed...).
    async with await reach_hosts(cluster, [host.name for host in hosts]) as runtime:
        limit = asyncio.Semaphore(cluster.spec.global_.concurrency)

        async def one(name: str) -> list[CertificateExpiry] | str:
            async with limit:
                try:
                    runner = runtime.host(name).runner
                    return await host_expirations(runner, authorities=authorities)
                except ConnectorError as error:
                    return f"{error_label(error)}: {error.reason}"

        reachable = [host.name for host in hosts if host.name not in runtime.unreachable]
        outcomes = dict(
            zip(reachable, await asyncio.gather(*(one(n) for n in reachable)), strict=True)
        )
        for host in hosts:
            unreachable = runtime.unreachable.get(host.name)
            if unreachable is not None:
                failed[host.name] = f"{error_label(unreachable)}: {unreachable.reason}"
                continue
            outcome = outcomes[host.name]
            if isinstance(outcome, str):
                failed[host.name] = outcome
            else:
                found += outcome
    return found, failed


def _days(days: int) -> str:
    colour = "red" if days < 0 else "yellow" if days < 30 else "green"
    return f"[{colour}]{days}[/]"


def _expiry_table(certificates: Sequence[CertificateExpiry]) -> Table:
    table = Table(title="Certificate expiration", title_justify="left")
    table.add_column("name", overflow="fold")
    table.add_column("expires (UTC)", no_wrap=True)
    table.add_column("days left", justify="right", no_wrap=True)
    table.add_column("CA", overflow="fold")
    table.add_column("where", overflow="fold")
    for item in certificates:
        table.add_row(
            escape(item.name),
            item.expires.strftime("%Y-%m-%d %H:%M"),
            _days(item.days_left),
            escape(item.authority),
            escape(item.location),
        )
    return table


@app.command("check-expiration")
def check_expiration(
    file: FileOption = None,
    directory: DirOption = None,
    remote: Annotated[
        bool, typer.Option("--remote", help="Also read the certificates on every host.")
    ] = False,
    hosts: Annotated[
        str | None,
        typer.Option("--hosts", help="Comma-separated hosts to read (implies --remote)."),
    ] = None,
    output: Annotated[OutputFormat, typer.Option("--output", "-o")] = OutputFormat.table,
) -> None:
    """When each certificate expires: this machine's PKI and, with --remote, the hosts'.

    On hosts it reads /etc/kubernetes/pki, /etc/ssl/etcd, /var/lib/kubelet/pki and the
    client certificates of /etc/kubernetes/*.conf. Unreachable hosts are listed, not fatal.
    """
    cluster = load_cluster(file)
    pki_directory = directory or default_pki_directory(cluster)
    names = [name.strip() for name in hosts.split(",") if name.strip()] if hosts else None
    try:
        selected = select_hosts(cluster, role=None, names=names) if remote or names else []
    except ValueError as error:
        raise _fail(str(error), 2) from None

    certificates = local_expirations(pki_directory) if pki_directory.is_dir() else []
    if not pki_directory.is_dir():
        if not selected:
            raise _fail(f"no PKI in {pki_directory}; run 'kubexms certs generate' first")
        err_console.print(f"no PKI in {escape(str(pki_directory))} on this machine")
    failed: dict[str, str] = {}
    if selected:
        authorities = local_authorities(pki_directory) if pki_directory.is_dir() else []
        on_hosts, failed = asyncio.run(_check_hosts(cluster, selected, authorities))
        certificates += on_hosts

    if output is OutputFormat.json:
        data = {
            "certificates": [item.as_dict() for item in certificates],
            "unreachable": failed,
        }
        typer.echo(json.dumps(data, indent=2))
    else:
        output_console().print(_expiry_table(certificates))
    if failed:
        err_console.print(
            f"[yellow]could not read {len(failed)} of {len(selected)} hosts:[/]", highlight=False
        )
        for name, reason in failed.items():
            err_console.print(f"  - {escape(name)}: {escape(reason)}", highlight=False)
