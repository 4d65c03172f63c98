"""`kubexms facts`: what each host is, gathered concurrently."""

from __future__ import annotations

import asyncio
import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.table import Table

from kubexms._errors import KubexmsError, error_label
from kubexms.cli._cluster import err_console, load_cluster
from kubexms.cli._console import output_console
from kubexms.connector import ConnectorError
from kubexms.runner import FactsParseError, HostFacts
from kubexms.runtime import reach_hosts


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"


FactsOrError = HostFacts | str


async def _gather(file: Path | None, only: list[str] | None) -> dict[str, FactsOrError]:
    cluster = load_cluster(file)
    names = [host.name for host in cluster.resolved_hosts()]
    unknown = [name for name in only or () if name not in names]
    if unknown:
        raise KeyError(f"no host named {', '.join(map(repr, unknown))} in this cluster")
    wanted = [name for name in names if name in only] if only else names
    # Only the wanted hosts are connected to; one that cannot be reached is one row of the
    # answer (labelled with what happened), not the end of it.
    async with await reach_hosts(cluster, wanted) as runtime:
        limit = asyncio.Semaphore(cluster.spec.global_.concurrency)

        async def one(name: str) -> FactsOrError:
            if name in runtime.unreachable:
                return _failure(runtime.unreachable[name])
            async with limit:
                try:
                    return await runtime.host(name).runner.facts()
                except (ConnectorError, FactsParseError) as error:
                    return _failure(error)

        results = await asyncio.gather(*(one(name) for name in wanted))
        return dict(zip(wanted, results, strict=True))


def _failure(error: KubexmsError) -> str:
    """ "<what happened>: <message>", e.g. "timed out: connecting to 10.0.0.5:22 ..."."""
    return f"{error_label(error)}: {error}"


def _as_data(results: dict[str, FactsOrError]) -> dict[str, Any]:
    return {
        name: (facts.as_dict() if isinstance(facts, HostFacts) else {"error": facts})
        for name, facts in results.items()
    }


def _table(results: dict[str, FactsOrError]) -> Table:
    table = Table(title="Host facts")
    for column in ("host", "os", "kernel", "arch", "hostname", "cpus", "memory"):
        table.add_column(column, justify="right" if column in ("cpus", "memory") else "left")
    for column in ("init", "packages", "ipv4"):
        table.add_column(column)
    for name, facts in results.items():
        if isinstance(facts, HostFacts):
            table.add_row(
                name,
                f"{facts.os_id} {facts.os_version}".strip(),
                facts.kernel,
                facts.arch,
                facts.hostname,
                str(facts.cpus),
                f"{facts.memory_mib} MiB",
                facts.init_system,
                facts.package_manager or "-",
                facts.default_ipv4 or "-",
            )
        else:
            table.add_row(name, f"[red]{facts}[/]", *[""] * 8)
    return table


def facts(
    file: Annotated[
        Path | None,
        typer.Option("--file", "-f", help="Cluster file. Default: this machine, locally."),
    ] = None,
    output: Annotated[OutputFormat, typer.Option("--output", "-o")] = OutputFormat.table,
    hosts: Annotated[
        str | None, typer.Option("--hosts", help="Comma-separated host names (default: all).")
    ] = None,
) -> None:
    """Gather and print each host's facts: OS, kernel, arch, CPUs, memory, init, IPv4."""
    only = [name.strip() for name in hosts.split(",") if name.strip()] if hosts else None
    try:
        results = asyncio.run(_gather(file, only))
    except KeyError as error:
        err_console.print(f"[red]error:[/] {error.args[0]}", highlight=False)
        raise typer.Exit(2) from None
    if output is OutputFormat.table:
        output_console().print(_table(results))
    elif output is OutputFormat.json:
        typer.echo(json.dumps(_as_data(results), indent=2))
    else:
        typer.echo(yaml.safe_dump(_as_data(results), sort_keys=False), nl=False)
    failed = [name for name, result in results.items() if not isinstance(result, HostFacts)]
    if failed:
        err_console.print(f"[red]facts failed on:[/] {', '.join(failed)}", highlight=False)
        raise typer.Exit(1)
