"""The kubexms command line: one root app, each command group in its own module."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kubexms import __version__
from kubexms._logging_setup import configure_logging
from kubexms.cli import _artifact, _certs, _config, _etcd, _exec, _facts, _pipeline, _sandbox

app = typer.Typer(
    name="kubexms",
    help="Declarative Kubernetes clusters over SSH: one cluster.yaml, any fleet.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
create_app = typer.Typer(help="Create files kubexms works from.", no_args_is_help=True)

app.add_typer(_pipeline.init_app, name="init", help="Prepare hosts for Kubernetes.")
app.add_typer(_pipeline.plan_app, name="plan", help="Show what a command would do; change nothing.")
app.add_typer(_config.app, name="config", help="Validate the cluster file; print its schema.")
app.add_typer(_sandbox.app, name="sandbox", help="A simulated fleet of hosts on this machine.")
app.add_typer(create_app, name="create")
app.add_typer(
    _artifact.app, name="artifact", help="Download, bundle and import the binaries a cluster needs."
)
app.add_typer(
    _certs.app, name="certs", help="Generate the cluster's PKI; check certificate expiry."
)
app.add_typer(_etcd.app, name="etcd", help="Operate etcd: status, backup, restore.")
app.command("facts")(_facts.facts)
app.command("exec")(_exec.exec_command)


@create_app.command("config")
def create_config(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
    name: Annotated[str, typer.Option("--name", help="metadata.name of the cluster.")] = "demo",
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a fully commented cluster.yaml scaffold."""
    _config.create_config(output, name, force)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"kubexms {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    log_level: Annotated[
        str, typer.Option("--log-level", help="debug, info, warning or error.")
    ] = "warning",
    log_format: Annotated[
        str, typer.Option("--log-format", help="console or json (logs go to stderr).")
    ] = "console",
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print version.")
    ] = False,
) -> None:
    configure_logging(log_level, "json" if log_format == "json" else "console")


def main() -> None:
    """Console-script entry point."""
    app()
