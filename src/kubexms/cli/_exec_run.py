"""`kubexms exec`: run one command on many hosts at once, output grouped per host.

This module is the command without its typer declaration (kubexms.cli._exec): a plain
invocation (kubexms.cli._exec_argv) runs it without importing typer, whose parameter
conversion builds pydantic TypeAdapters, more start-up than the fan-out to 20 hosts.

It reaches the hosts through the Runtime, connecting only to the selected hosts; a host that
cannot be reached is one row of the answer (labelled with what happened: "unreachable",
"timed out", "authentication failed", "host key changed"...), not the end of the command.
"""

from __future__ import annotations

import asyncio
import json
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from kubexms._errors import error_label
from kubexms.cli._console import err_console, output_console, report_config_error
from kubexms.cli._local import LOCAL_CLUSTER_YAML
from kubexms.cli._signals import RunInterruptedError, run_until_signalled
from kubexms.config import ROLES
from kubexms.connector import ConnectorError
from kubexms.runtime import ConnectorFactory, HostInventory, reach_hosts

if TYPE_CHECKING:
    from rich.console import Console

    from kubexms.config import Cluster, ResolvedHost
    from kubexms.config._inventory import ClusterInventory

DEFAULT_CONCURRENCY = 256


class ExecOutput(StrEnum):
    text = "text"
    json = "json"


@dataclass(frozen=True, slots=True)
class ExecRequest:
    """What `kubexms exec` was asked, whichever way its arguments were parsed."""

    command: tuple[str, ...]
    file: Path | None = None
    role: str | None = None
    hosts: str | None = None
    sudo: bool = False
    concurrency: int = DEFAULT_CONCURRENCY
    timeout: float | None = None
    output: ExecOutput = ExecOutput.text


@dataclass(frozen=True, slots=True)
class HostOutcome:
    """What happened on one host: the command's result, or why it could not run (``error``,
    and ``label``: what happened, in a few words)."""

    host: str
    exit_code: int | None
    stdout: str
    stderr: str
    duration: float
    error: str | None = None
    label: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.exit_code == 0


def command_line(words: Sequence[str]) -> str:
    """What to run: one argument is a shell command line, as typed (``'a; b | c'``); several
    are one argv, each word quoted (``sh -c 'a; b'`` runs ``sh`` with ``-c`` and ``a; b``)."""
    if len(words) == 1:
        return words[0].strip()
    return shlex.join(words)


def select_hosts(
    cluster: HostInventory, *, role: str | None, names: Sequence[str] | None
) -> list[ResolvedHost]:
    """The hosts to run on, in config order: those named (default: all) that have ``role``
    (default: any). ValueError naming an unknown role or host, or saying that none matches."""
    hosts = cluster.resolved_hosts()
    if role is not None and role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    if names:
        known = {host.name for host in hosts}
        unknown = [name for name in names if name not in known]
        if unknown:
            raise ValueError(f"no host named {', '.join(unknown)} in this cluster")
        wanted = set(names)
        hosts = [host for host in hosts if host.name in wanted]
    if role is not None:
        hosts = [host for host in hosts if role in host.roles]
        if not hosts and names:
            raise ValueError(
                f"none of the hosts {', '.join(names)} has the role {role!r}; --role and "
                "--hosts select the hosts that match both"
            )
        if not hosts:
            raise ValueError(f"no host has the role {role!r}")
    return hosts


async def fan_out(
    cluster: HostInventory,
    hosts: Sequence[ResolvedHost],
    command: str,
    *,
    sudo: bool = False,
    concurrency: int = DEFAULT_CONCURRENCY,
    timeout: float | None = None,
    connector_factory: ConnectorFactory | None = None,
    on_done: Callable[[HostOutcome], None] | None = None,
) -> list[HostOutcome]:
    """Reach ``hosts`` through the Runtime and run ``command`` on each; one outcome per host,
    in the given order.

    Only these hosts are connected to, at most ``spec.global.connectConcurrency`` handshakes
    at once within ``connectionTimeout``; at most ``concurrency`` commands run at once. A
    host that cannot be reached is an outcome with ``error`` and its ``label``.
    """
    command_timeout = (
        timeout if timeout is not None else float(cluster.spec.global_.command_timeout)
    )
    workers = asyncio.Semaphore(max(1, concurrency))
    outcomes: dict[str, HostOutcome] = {}

    def done(outcome: HostOutcome) -> None:
        outcomes[outcome.host] = outcome
        if on_done is not None:
            on_done(outcome)

    names = [host.name for host in hosts]
    async with await reach_hosts(cluster, names, connector_factory=connector_factory) as runtime:
        for name, error in runtime.unreachable.items():
            done(_failed(name, 0.0, error))

        async def one(name: str) -> None:
            runner = runtime.host(name).runner
            started = time.monotonic()
            async with workers:
                try:
                    result = await runner.run(command, sudo=sudo, timeout=command_timeout)
                except ConnectorError as error:
                    done(_failed(name, time.monotonic() - started, error))
                    return
            done(HostOutcome(name, result.exit_code, result.stdout, result.stderr, result.duration))

        await asyncio.gather(*(one(host.name) for host in runtime.hosts))
    return [outcomes[name] for name in names]


def _failed(host: str, duration: float, error: ConnectorError) -> HostOutcome:
    return HostOutcome(host, None, "", "", duration, error.reason, error_label(error))


def group_outcomes(outcomes: Sequence[HostOutcome]) -> list[tuple[list[str], HostOutcome]]:
    """Hosts with identical results folded together, groups in order of first appearance."""
    groups: dict[tuple[int | None, str, str, str | None, str | None], list[HostOutcome]] = {}
    for outcome in outcomes:
        key = (outcome.exit_code, outcome.stdout, outcome.stderr, outcome.error, outcome.label)
        groups.setdefault(key, []).append(outcome)
    return [([o.host for o in members], members[0]) for members in groups.values()]


def _header(console: Console, label: str, colour: str) -> None:
    # Printed whole (soft wrap): a long host list must not be cut to the terminal width.
    console.print(f"[bold {colour}]==>[/] [{colour}]{label}[/]", soft_wrap=True, highlight=False)


def _body(console: Console, text: str) -> None:
    console.print(text, end="", markup=False, highlight=False, soft_wrap=True)
    if not text.endswith("\n"):
        console.print()


def render_text(outcomes: Sequence[HostOutcome], console: Console) -> None:
    """Each group of identical results once, under the names of its hosts."""
    for names, outcome in group_outcomes(outcomes):
        label = ", ".join(names) + (f" ({len(names)} hosts)" if len(names) > 1 else "")
        if outcome.error is not None:
            _header(console, f"{label}: {outcome.label or 'failed'}", "red")
            _body(console, outcome.error)
            continue
        colour = "green" if outcome.exit_code == 0 else "red"
        _header(console, f"{label}: exit {outcome.exit_code}", colour)
        if outcome.stdout:
            _body(console, outcome.stdout)
        if outcome.stderr:
            console.print("[dim]stderr:[/]")
            _body(console, outcome.stderr)


def render_json(outcomes: Sequence[HostOutcome]) -> str:
    failed = [outcome.host for outcome in outcomes if not outcome.ok]
    data = {
        "hosts": {
            outcome.host: {k: v for k, v in asdict(outcome).items() if k != "host"}
            for outcome in outcomes
        },
        "failed": failed,
    }
    return json.dumps(data, indent=2, ensure_ascii=False)


async def _run_with_progress(
    cluster: HostInventory,
    hosts: Sequence[ResolvedHost],
    command: str,
    *,
    sudo: bool,
    concurrency: int,
    timeout: float | None,
) -> list[HostOutcome]:
    if not err_console.is_terminal:
        # Off a terminal the (transient) bar would show nothing: skip it, its import and its
        # refresh thread, which would otherwise wake ten times a second during the run.
        return await fan_out(
            cluster, hosts, command, sudo=sudo, concurrency=concurrency, timeout=timeout
        )
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )
    failed = 0
    with progress:
        task = progress.add_task("running", total=len(hosts))

        def done(outcome: HostOutcome) -> None:
            nonlocal failed
            failed += 0 if outcome.ok else 1
            description = f"{outcome.host} done" + (f", {failed} failed" if failed else "")
            progress.update(task, advance=1, description=description)

        return await fan_out(
            cluster,
            hosts,
            command,
            sudo=sudo,
            concurrency=concurrency,
            timeout=timeout,
            on_done=done,
        )


def load_hosts(file: Path | None) -> ClusterInventory | Cluster:
    """The hosts of ``file`` (default: this machine), without building the cluster's models
    when the file is plain enough to read directly (kubexms.config._inventory); a bad file
    raises the same `ConfigError` as `load_config` would."""
    from kubexms.config._inventory import load_inventory, parse_inventory

    if file is None:
        return parse_inventory(LOCAL_CLUSTER_YAML, source="<local default>")
    return load_inventory(file)


def run_exec(request: ExecRequest) -> int:
    """Run `kubexms exec` as asked; the exit code (0: the command succeeded on every host)."""
    text = command_line(request.command)
    if not text:
        err_console.print("[red]error:[/] no command given (put it after --)")
        return 2
    from kubexms.config import ConfigError

    try:
        cluster = load_hosts(request.file)
    except ConfigError as error:
        report_config_error(error)
        return 1
    hosts = request.hosts
    names = [name.strip() for name in hosts.split(",") if name.strip()] if hosts else None
    try:
        selected = select_hosts(cluster, role=request.role, names=names)
    except ValueError as error:
        err_console.print(f"[red]error:[/] {error}", highlight=False)
        return 2
    try:
        outcomes = run_until_signalled(
            _run_with_progress(
                cluster,
                selected,
                text,
                sudo=request.sudo,
                concurrency=request.concurrency,
                timeout=request.timeout,
            )
        )
    except RunInterruptedError as interrupt:
        # Cancelled like a pipeline run: the command is killed on every host it still runs on.
        err_console.print(
            f"interrupted by {interrupt.signal_name}; the command was stopped on every host",
            highlight=False,
        )
        return interrupt.exit_code
    if request.output is ExecOutput.json:
        sys.stdout.write(render_json(outcomes) + "\n")
        sys.stdout.flush()
    else:
        render_text(outcomes, output_console())
    failed = [outcome.host for outcome in outcomes if not outcome.ok]
    if failed:
        err_console.print(
            f"[red]failed on {len(failed)} of {len(outcomes)} hosts:[/] {', '.join(failed)}",
            highlight=False,
        )
        return 1
    return 0
