"""The kubexms command line: one root app, each command in its own module, imported on use.

``import kubexms.cli`` imports neither typer nor any command module: every command is declared
in ``COMMANDS`` by its path, where it lives and its one-line help, and its module is imported
only when it runs or shows its own help (kubexms.cli._lazy). ``kubexms --help`` is drawn from
these declarations without typer (kubexms.cli._root_help). The typer app is ``kubexms.cli.app``,
built on first access (kubexms.cli._app). Unit tests pin which heavy libraries
``import kubexms.cli`` loads (none of asyncssh, pydantic, jinja2, cryptography, typer) and that
each declared line matches the command's own help.

Adding a command is ONE line in ``COMMANDS``::

    LazyCommand("etcd", "kubexms.cli._etcd:app", "Check, back up and restore etcd."),
    LazyCommand("create cluster", "kubexms.cli._create:create_cluster", "<its docstring's line>"),

A ``typer.Typer`` target becomes a group (the line given is its help); a function becomes a
command (its docstring is its help; give its first line here). A path of two words puts the
command under that group (``create`` is the one nested group so far; a new one needs a
``LazyGroup`` subclass in kubexms.cli._app). Keep imports of heavy libraries inside command
modules, never here.
"""

from __future__ import annotations

import sys
from typing import Any

from kubexms.cli._commands import LazyCommand

__all__ = ["COMMANDS", "DESCRIPTION", "LazyCommand", "app", "main"]

DESCRIPTION = "Declarative Kubernetes clusters over SSH: one cluster.yaml, any fleet."

COMMANDS: tuple[LazyCommand, ...] = (
    LazyCommand(
        "facts",
        "kubexms.cli._facts:facts",
        "Gather and print each host's facts: OS, kernel, arch, CPUs, memory, init, IPv4.",
    ),
    LazyCommand(
        "exec",
        "kubexms.cli._exec:exec_command",
        "Run COMMAND on many hosts at once; outputs grouped per host, identical ones folded.",
    ),
    LazyCommand("init", "kubexms.cli._pipeline:init_app", "Prepare hosts for Kubernetes."),
    LazyCommand(
        "plan",
        "kubexms.cli._create_cluster:plan_app",
        "Show what a command would do; change nothing.",
    ),
    LazyCommand(
        "config", "kubexms.cli._config:app", "Validate the cluster file; print its schema."
    ),
    LazyCommand(
        "sandbox", "kubexms.cli._sandbox:app", "A simulated fleet of hosts on this machine."
    ),
    LazyCommand(
        "create", "kubexms.cli._app:create_app", "Create a cluster, or files kubexms works from."
    ),
    LazyCommand(
        "create cluster",
        "kubexms.cli._create_cluster:create_cluster",
        "Create the cluster: its phases in order (preflight, os, artifacts, pki, etcd, ...).",
    ),
    LazyCommand(
        "create config",
        "kubexms.cli._config:create_config_command",
        "Write a fully commented cluster.yaml scaffold.",
    ),
    LazyCommand(
        "artifact",
        "kubexms.cli._artifact:app",
        "Download, bundle and import the binaries a cluster needs.",
    ),
    LazyCommand(
        "certs", "kubexms.cli._certs:app", "Generate the cluster's PKI; check certificate expiry."
    ),
    LazyCommand("etcd", "kubexms.cli._etcd:app", "Operate etcd: status, backup, restore."),
    LazyCommand(
        "kubeconfig",
        "kubexms.cli._kubeconfig:kubeconfig",
        "Print the cluster admin's kubeconfig, or merge it into your kubeconfig as a context.",
    ),
    LazyCommand(
        "render",
        "kubexms.cli._render:render",
        "Write every file the phases would place on each host; touch no host.",
    ),
)


def __getattr__(name: str) -> Any:
    if name == "app":  # the typer app, built when first asked for (typer costs ~0.1 s)
        from kubexms.cli._app import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """Console-script entry point."""
    argv = sys.argv[1:]
    if argv in (["--help"], ["-h"]):  # only then can it be the root help (rich, ~10 ms)
        from kubexms.cli import _root_help

        if _root_help.wants_root_help(argv):
            top = [(command.name, command.help) for command in COMMANDS if not command.parent]
            _root_help.print_root_help(DESCRIPTION, top)
            return
    if argv[:1] == ["exec"]:  # a plain `kubexms exec` runs without typer (kubexms.cli._exec_argv)
        from kubexms.cli._exec_argv import parse_exec_argv

        request = parse_exec_argv(argv[1:])
        if request is not None:
            from kubexms._logging_setup import configure_logging
            from kubexms.cli._exec_run import run_exec

            configure_logging("warning", "console")  # the root options' defaults
            sys.exit(run_exec(request))
    from kubexms.cli._app import app

    app()
