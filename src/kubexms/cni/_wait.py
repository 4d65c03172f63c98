"""The pod network is up: the plugin's DaemonSets rolled out and every node Ready.

When it is not by the deadline, the error lists the nodes not Ready with their conditions and
the plugin's failing pods with their last events (``_diagnostics``), read with kubectl on the
first master.
"""

from __future__ import annotations

import asyncio
import json
import shlex
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubexms.cni._apply_steps import tool_message
from kubexms.cni._diagnostics import failing_pods, nodes_not_ready, not_ready_report
from kubexms.cni._tools import kubectl_get_json_argv, kubectl_rollout_status_argv
from kubexms.engine import Step
from kubexms.runner import Change, RunnerError
from kubexms.runtime import Context

POLL_SECONDS = 2.0


class NetworkNotReadyError(RunnerError):
    """The pod network did not come up in time; the message says which nodes and pods."""

    label = "pod network not ready"


def daemonset_rolled_out(daemonset: Mapping[str, Any]) -> bool:
    """What ``kubectl rollout status`` waits for: the controller saw the current template and
    every scheduled pod runs it and is available."""
    status = daemonset.get("status") or {}
    generation = (daemonset.get("metadata") or {}).get("generation") or 0
    desired = status.get("desiredNumberScheduled")
    return (
        status.get("observedGeneration", 0) >= generation
        and desired is not None
        and status.get("updatedNumberScheduled", 0) == desired
        and status.get("numberAvailable", 0) == desired
    )


@dataclass(frozen=True)
class NetworkReady(Step):
    """Wait (up to ``timeout_seconds``) for the DaemonSets ``daemonsets`` ((namespace, name,
    label selector) each) to roll out and every node to be Ready."""

    what: str
    daemonsets: tuple[tuple[str, str, str], ...]
    timeout_seconds: int = 600
    name: str = "ready"

    description = "{what}: DaemonSets rolled out and every node Ready"

    @property
    def timeout(self) -> float:  # type: ignore[override]
        return float(self.timeout_seconds + 60)

    async def _json(self, ctx: Context, argv: Sequence[str]) -> dict[str, Any] | None:
        result = await ctx.runner.script(shlex.join(argv), check=False)
        if not result.ok:
            return None
        try:
            found = json.loads(result.stdout)
        except ValueError:
            return None
        return found if isinstance(found, dict) else None

    async def _waiting_for(self, ctx: Context) -> list[str]:
        """What is not ready yet (empty: all is)."""
        pending = []
        for namespace, name, _selector in self.daemonsets:
            argv = kubectl_get_json_argv(f"daemonset/{name}", namespace=namespace)
            found = await self._json(ctx, argv)
            if found is None or not daemonset_rolled_out(found):
                pending.append(f"daemonset {namespace}/{name}")
        nodes = await self._json(ctx, kubectl_get_json_argv("nodes"))
        if nodes is None or not nodes.get("items"):
            pending.append("nodes")
        else:
            pending += [f"node {node.name}" for node in nodes_not_ready(nodes)]
        return pending

    async def precheck(self, ctx: Context) -> Change:
        pending = await self._waiting_for(ctx)
        detail = f"would wait for {', '.join(pending)}" if pending else ""
        return Change(bool(pending), f"{self.what} ready", detail)

    async def run(self, ctx: Context) -> Change:
        deadline = time.monotonic() + self.timeout_seconds
        if not await self._waiting_for(ctx):
            # Ready at the first look (the precheck's look missed, e.g. one kubectl timeout on
            # a loaded host) is no change: a rerun of a done cluster stays "nothing changed".
            return Change(False, f"{self.what} ready", "every node Ready")
        for namespace, name, _selector in self.daemonsets:
            left = max(int(deadline - time.monotonic()), 1)
            argv = kubectl_rollout_status_argv(namespace, name, timeout_seconds=left)
            result = await ctx.runner.script(shlex.join(argv), check=False)
            if not result.ok:
                said = tool_message(result.stderr, result.stdout)
                await self._fail(ctx, f"daemonset {namespace}/{name} did not roll out{said}")
        while True:
            pending = await self._waiting_for(ctx)
            if not pending:
                return Change(True, f"{self.what} ready", "every node Ready")
            if time.monotonic() >= deadline:
                await self._fail(ctx, f"still waiting for {', '.join(pending)}")
            await asyncio.sleep(POLL_SECONDS)

    async def _fail(self, ctx: Context, headline: str) -> None:
        nodes = await self._json(ctx, kubectl_get_json_argv("nodes")) or {}
        pods = []
        for namespace, _name, selector in self.daemonsets:
            found = await self._json(
                ctx, kubectl_get_json_argv("pods", namespace=namespace, selector=selector)
            )
            events = await self._json(ctx, kubectl_get_json_argv("events", namespace=namespace))
            pods += failing_pods(found or {}, events or {})
        report = not_ready_report(nodes_not_ready(nodes), pods)
        raise NetworkNotReadyError(
            ctx.host.name,
            f"{self.what} not ready after {self.timeout_seconds}s: {headline}\n    "
            + "\n    ".join(report.splitlines()),
        )
