"""Checks are not cancelled by fail-fast, and identical failures are told once.

200 in-memory hosts without systemd: every one gets its verdict (before, the first 50 pairs
in flight failed and the other 150 were skipped), and the summary, the plain view and the live
view say "200 hosts: ...: init is tini, not systemd" with the host names listed once.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from rich.console import Console

from kubexms.engine import (
    AllHosts,
    Check,
    CheckFailedError,
    EventKind,
    LiveView,
    Module,
    Pipeline,
    PlainView,
    SummaryCollector,
    Task,
    summary_table,
)
from kubexms.engine._options import EngineOptions
from kubexms.runtime import Context
from kubexms.testing import Answer
from tests.unit.engine.world import World, pipeline, setup, task

HOSTS = 200


@dataclass(frozen=True)
class InitCheck(Check):
    """Asks the host for its init system; only systemd will do."""

    name = "init"

    async def verify(self, ctx: Context) -> None:
        init = (await ctx.runner.must_run("check init")).stdout
        if init != "systemd":
            raise CheckFailedError(ctx.host.name, self.name, f"init is {init}, not systemd")


@dataclass(frozen=True)
class DiskCheck(Check):
    name = "disk"

    async def verify(self, ctx: Context) -> None:
        await ctx.runner.must_run("check disk")


class _Answers(World):
    def __init__(self, tini: set[str]) -> None:
        super().__init__()
        self.tini = tini

    def answer(self, host: str, command: str, stdin: bytes) -> Answer:
        if command == "check init":
            self.log.append((host, command))
            return "tini" if host in self.tini else "systemd"
        return super().answer(host, command, stdin)


def _console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, width=200, color_system=None), buffer


def _pipeline() -> Pipeline:
    checks = Task("checks", [InitCheck(), DiskCheck()], AllHosts())
    return pipeline(Module("preflight", [checks]), Module("prep", [task("t", "a")]))


async def test_every_host_gets_its_verdict_and_identical_failures_fold() -> None:
    names = [f"node{index}" for index in range(1, HOSTS + 1)]
    world = _Answers(tini=set(names))
    s = await setup(HOSTS, world=world)
    graph = _pipeline().plan(s.config)
    collector = SummaryCollector(names)
    plain, plain_text = _console()
    live_out, live_text = _console()
    live = LiveView(graph, live_out)
    engine = s.engine()
    assert engine.options.concurrency == EngineOptions().concurrency < HOSTS
    for sink in (collector, PlainView(graph, plain), live):
        engine.events.subscribe(sink)
    result = await engine.run(graph)

    assert not result.succeeded
    init = "p/preflight/checks/init"
    failed = {host for node, host in s.recorder.pairs(EventKind.FAILED) if node == init}
    assert failed == set(names)
    assert [pair for pair in s.recorder.pairs(EventKind.SKIPPED) if pair[0] == init] == []
    assert world.ran("node1") == []  # nothing changed anywhere: the run stopped after preflight

    (folded,) = collector.summary.folded_errors()
    assert folded.text == f"{init}: init is tini, not systemd"
    assert folded.hosts == names
    assert folded.headline() == f"200 hosts: {init}: init is tini, not systemd"
    document = collector.summary.as_dict()
    assert document["errors"] == [{"error": folded.text, "hosts": names}]

    table_out, table_text = _console()
    table_out.print(summary_table(collector.summary))
    table = table_text.getvalue()
    assert "200 hosts: node1, node2, node3 and 197 more" in table
    assert "node57" not in table

    lines = plain_text.getvalue().splitlines()
    told = [line for line in lines if line.startswith(f"FAILED {init} on")]
    assert len(told) == 2, told
    assert told[0] == f"FAILED {init} on node1: node1: init is tini, not systemd"
    assert told[1].startswith(f"FAILED {init} on 199 more hosts for the same reason: node2, ")
    assert told[1].count("node200") == 1

    live_out.print(live.renderable())
    shown = live_text.getvalue()
    assert f"failed: 200 hosts: {init}: init is tini, not systemd (node1, node2" in shown
    assert "and 190 more" in shown


async def test_a_check_failing_on_one_host_does_not_stop_the_other_checks() -> None:
    world = _Answers(tini={"node1"})
    s = await setup(60, world=world)
    graph = _pipeline().plan(s.config)
    await s.engine().run(graph)
    disk = "p/preflight/checks/disk"
    checked = {host for host, command in world.log if command == "check disk"}
    assert len(checked) == 60  # node1 too: its other problems are reported in the same run
    assert not [pair for pair in s.recorder.pairs(EventKind.SKIPPED) if pair[0] == disk]
    skipped = {node for node, _ in s.recorder.pairs(EventKind.SKIPPED)}
    assert skipped == {"p/prep/t/a"}
