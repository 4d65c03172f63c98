"""``kubexms render``: the files kubexms would place on each host, written to a directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kubexms.cli._cluster import err_console, load_cluster
from kubexms.cli._console import output_console
from kubexms.engine import PlanError
from kubexms.pipelines._render import RenderError, plan_files, write_render


def render(
    file: Annotated[
        Path, typer.Option("--file", "-f", help="The cluster file.", show_default=False)
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Where to write <host>/<path> and <host>.steps.")
    ] = Path("rendered"),
    hosts: Annotated[
        str | None,
        typer.Option("--hosts", help="Only these hosts (comma-separated).", show_default=False),
    ] = None,
) -> None:
    """Write every file the phases would place on each host; touch no host.

    Files go to OUT/<host>/<absolute path> (secrets as a marker line), and OUT/<host>.steps
    lists the steps the host would run in plan order and each file with its mode. Only the
    cluster file (and the cluster PKI on this machine, for certificates) is read.
    """
    cluster = load_cluster(file)
    wanted = [name.strip() for name in (hosts or "").split(",") if name.strip()]
    try:
        renders = plan_files(cluster, wanted or None)
        written = write_render(renders, out)
    except (RenderError, PlanError) as error:
        err_console.print(f"error: {error}", markup=False, highlight=False)
        raise typer.Exit(1) from None
    files = sum(len(r.files) + len(r.blocks) for r in renders.values())
    output_console().print(
        f"rendered {files} file(s) for {len(renders)} host(s) into {out} "
        f"({len(written)} written, with a .steps file per host)",
        highlight=False,
    )
