"""How CLI commands obtain a cluster: from -f, or the local machine when none is given."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from kubexms.cli._console import err_console as err_console
from kubexms.cli._console import report_config_error
from kubexms.cli._local import LOCAL_CLUSTER_YAML as LOCAL_CLUSTER_YAML
from kubexms.config import ConfigError
from kubexms.runtime import ClusterRuntime, InitializationError, new_runtime

if TYPE_CHECKING:
    from kubexms.config import Cluster


def load_cluster(file: Path | None) -> Cluster:
    """The cluster in ``file``, or the local machine; exits 1 with the issues on bad input."""
    from kubexms.config import load_config, parse_config

    try:
        if file is None:
            return parse_config(LOCAL_CLUSTER_YAML, source="<local default>")
        return load_config(file)
    except ConfigError as error:
        report_config_error(error)
        raise typer.Exit(1) from None


async def open_runtime(cluster: Cluster, *, allow_unreachable: bool = False) -> ClusterRuntime:
    """Connect to every host; on failure print each failed host and exit 1.

    With ``allow_unreachable`` the run goes on without the hosts that could not be reached
    (they are named here, and fail in the run), unless none could be.
    """
    try:
        runtime = await new_runtime(cluster, allow_unreachable=allow_unreachable)
    except InitializationError as error:
        err_console.print(
            f"[red]error:[/] could not reach {len(error.errors)} of "
            f"{len(cluster.resolved_hosts())} hosts:",
            highlight=False,
        )
        for cause in error.errors:
            err_console.print(f"  - {cause}", highlight=False, markup=False)
        raise typer.Exit(1) from None
    for cause in runtime.unreachable.values():
        err_console.print(
            f"[yellow]warning:[/] continuing without an unreachable host: {escape(str(cause))}",
            highlight=False,
        )
    return runtime
