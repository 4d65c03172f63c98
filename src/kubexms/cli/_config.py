"""`kubexms config validate|schema` and the `kubexms create config` scaffold writer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from kubexms.cli._console import report_config_error as report_config_error
from kubexms.config import (
    ROLES,
    ConfigError,
    cluster_json_schema,
    load_config,
    scaffold_config,
)

app = typer.Typer(
    help="Validate the cluster file and print its JSON Schema.",
    no_args_is_help=True,
)


def _stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


@app.command("validate")
def validate(
    file: Annotated[
        Path,
        typer.Option("--file", "-f", help="The cluster file to check.", show_default=False),
    ],
) -> None:
    """Check a cluster file without touching any host; exit 1 listing every problem."""
    try:
        cluster = load_config(file)
    except ConfigError as error:
        report_config_error(error)
        raise typer.Exit(1) from None
    hosts = cluster.resolved_hosts()
    counts = [
        f"{role}={sum(1 for host in hosts if role in host.roles)}"
        for role in ROLES
        if any(role in host.roles for host in hosts)
    ]
    plural = "s" if len(hosts) != 1 else ""
    typer.echo(f"{file}: valid ({len(hosts)} host{plural}, roles {', '.join(counts)})")


@app.command("schema")
def schema() -> None:
    """Print the JSON Schema of the cluster file (for editors and CI)."""
    typer.echo(json.dumps(cluster_json_schema(), indent=2))


def create_config(output: Path | None, name: str, force: bool) -> None:
    """Write a commented cluster.yaml scaffold to ``output``, or print it when ``output`` is None.

    Refuses to replace an existing file unless ``force``; exits 1 with a message on any problem.
    """
    try:
        text = scaffold_config(name)
    except ConfigError as error:
        messages = "; ".join(issue.message for issue in error.issues)
        _stderr().print(f"[red]--name {escape(name)}: {escape(messages)}[/]")
        raise typer.Exit(1) from None
    if output is None:
        typer.echo(text, nl=False)
        return
    if output.exists() and not force:
        _stderr().print(
            f"[red]{escape(str(output))} already exists; use --force to overwrite it[/]"
        )
        raise typer.Exit(1)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        _stderr().print(f"[red]cannot write {escape(str(output))}: {escape(str(exc.strerror))}[/]")
        raise typer.Exit(1) from None
    typer.echo(f"wrote {output}")


def create_config_command(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    name: Annotated[str, typer.Option("--name", help="metadata.name of the cluster.")] = "demo",
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a fully commented cluster.yaml scaffold."""
    create_config(output, name, force)
