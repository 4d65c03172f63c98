"""A pipeline with a long remote step, run the way `kubexms init os` runs (run_pipeline).

Run as ``python -m tests.integration.interruptible_run CLUSTER [--resume] [-o json]``. Each host
first gets a marker file (a step that completes, so the checkpoint has something to keep), then
the "wait" step: while ``/tmp/kxms-hold`` exists on the host it records its shell's pid in
``/tmp/kxms-wait.pid`` and sleeps for ten minutes; without it, it finishes at once. A test
stops the process with a signal during the wait, removes the hold file and resumes.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import typer

from kubexms._logging_setup import configure_logging
from kubexms.cli._pipeline import LogFormat, Output, RunSettings, run_pipeline
from kubexms.config import load_config
from kubexms.engine import (
    AllHosts,
    EngineOptions,
    Module,
    Pipeline,
    RetryPolicy,
    RunRequest,
    Step,
    Task,
)
from kubexms.runner import Change
from kubexms.runtime import Context

HOLD = "/tmp/kxms-hold"
PID_FILE = "/tmp/kxms-wait.pid"
MARKER = "/tmp/kxms-marker"
DONE = "/tmp/kxms-waited"


@dataclass(frozen=True)
class Marker(Step):
    name = "marker"

    async def precheck(self, ctx: Context) -> bool:
        return (await ctx.runner.run(f"test -e {MARKER}")).ok

    async def run(self, ctx: Context) -> Change | None:
        await ctx.runner.script(f"touch {MARKER}")
        return None


@dataclass(frozen=True)
class Wait(Step):
    name = "wait"
    timeout = 900.0

    async def precheck(self, ctx: Context) -> bool:
        return (await ctx.runner.run(f"test -e {DONE}")).ok

    async def run(self, ctx: Context) -> Change | None:
        # With the Runner's privileges: through sudo when the cluster logs in as another user,
        # so the stop must kill a command sudo started.
        await ctx.runner.script(
            f"if [ -e {HOLD} ]; then echo $$ > {PID_FILE}; exec sleep 600; fi; touch {DONE}"
        )
        return None


def main() -> None:
    configure_logging()
    args = sys.argv[1:]
    cluster = load_config(Path(args[0]))
    resume = "--resume" in args
    output = Output.json if "json" in args else Output.text
    graph = Pipeline(
        "interruptible", [Module("m", [Task("t", [Marker(), Wait()], AllHosts())])]
    ).plan(cluster)
    settings = RunSettings(
        command="interruptible run",
        dry_run=False,
        request=RunRequest("interruptible run", resume=resume),
        options=EngineOptions.from_config(cluster, retry=RetryPolicy(retries=0)),
        output=output,
        log_format=LogFormat.console,
    )
    try:
        run_pipeline(cluster, graph, settings)
    except typer.Exit as done:
        sys.exit(done.exit_code)


if __name__ == "__main__":
    main()
