"""``kubexms kubeconfig``: the cluster admin's kubeconfig, printed or merged into the user's."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from kubexms.cli._cluster import err_console, load_cluster
from kubexms.cli._console import output_console
from kubexms.kubernetes import (
    KubeconfigError,
    default_user_kubeconfig,
    merge_into_file,
    render_kubeconfig_document,
    user_kubeconfig,
)


def kubeconfig(
    file: Annotated[
        Path, typer.Option("--file", "-f", help="The cluster file.", show_default=False)
    ],
    merge: Annotated[
        bool,
        typer.Option(
            "--merge",
            help="Add it as a context to ~/.kube/config ($KUBECONFIG's first file) instead.",
        ),
    ] = False,
) -> None:
    """Print the cluster admin's kubeconfig, or merge it into your kubeconfig as a context.

    Made from the cluster PKI on this machine (<workDir>/pki): server = the control-plane
    endpoint, cluster and context named after metadata.name, user <name>-admin. With --merge,
    other contexts are kept, and an entry of the same name is replaced only when it belongs to
    this cluster (same CA); the file is written atomically with mode 0600.
    """
    cluster = load_cluster(file)
    try:
        if merge:
            result = merge_into_file(cluster, default_user_kubeconfig())
            output_console().print(escape(result.message()), highlight=False)
            return
        document = render_kubeconfig_document(user_kubeconfig(cluster))
    except KubeconfigError as error:
        err_console.print(f"[red]error:[/] {escape(str(error))}", highlight=False)
        raise typer.Exit(1) from None
    except OSError as error:
        err_console.print(f"[red]error:[/] {escape(str(error))}", highlight=False)
        raise typer.Exit(1) from None
    sys.stdout.write(document.decode())
