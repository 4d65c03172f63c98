"""Consumers of the event stream: summary, plain and live views, plan tree and JSON."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

from rich.console import Console

from kubexms.connector import CommandTimeoutError, HostConnectionError, SudoError
from kubexms.engine import (
    EventBus,
    EventKind,
    FirstOf,
    LiveView,
    Module,
    Named,
    PlainView,
    SummaryCollector,
    Task,
    plan_document,
    plan_tree,
    summary_table,
)
from kubexms.runner import Change
from kubexms.runtime import Context
from tests.unit.engine.world import Failure, ProbeStep, pipeline, setup, task


def console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, width=200, color_system=None), buffer


async def test_summary_counts_per_host_and_json() -> None:
    s = await setup(3)
    s.world.fail[("node2", "run b")] = Failure(code=4)
    s.world.already.add(("node3", "a"))
    graph = pipeline(Module("m", [task("t", "a", "b")])).plan(s.config)
    collector = SummaryCollector(["node1", "node2", "node3"])
    engine = s.engine(continue_on_error=True)
    engine.events.subscribe(collector)
    await engine.run(graph)
    summary = collector.summary
    assert summary.outcome == "failed"
    document = summary.as_dict()
    assert document["failed_hosts"] == ["node2"]
    assert list(document["hosts"]) == ["node1", "node2", "node3"]
    node1, node2, node3 = (document["hosts"][name] for name in ("node1", "node2", "node3"))
    assert (node1["changed"], node1["unchanged"], node1["failed"]) == (2, 0, 0)
    assert (node2["changed"], node2["failed"]) == (1, 1)
    assert node2["errors"][0].startswith("p/m/t/b: command exited 4")
    assert (node3["changed"], node3["unchanged"]) == (1, 1)
    json.dumps(document)  # JSON-able as it is
    out, buffer = console()
    out.print(summary_table(summary))
    table = buffer.getvalue()
    assert "p: failed in" in table
    assert "node2" in table


async def test_plain_view_reports_failures_retries_and_nodes() -> None:
    s = await setup(2)
    s.world.fail[("node1", "run a")] = Failure(HostConnectionError("node1", "reset"), times=1)
    s.world.fail[("node2", "run b")] = Failure(code=2)
    graph = pipeline(Module("m", [task("t", "a", "b")])).plan(s.config)
    out, buffer = console()
    engine = s.engine()
    engine.events.subscribe(PlainView(graph, out))
    await engine.run(graph)
    text = buffer.getvalue()
    assert "p: running 2 steps on 2 hosts (4 step-host pairs)" in text
    assert "retry p/m/t/a on node1 (attempt 1 failed: node1: reset)" in text
    assert "FAILED p/m/t/b on node2: node2: command exited 2" in text
    assert "p/m/t/a: 2 changed" in text


async def test_live_view_renders_progress_and_failures() -> None:
    s = await setup(3)
    s.world.fail[("node3", "run a")] = Failure(code=1)
    graph = pipeline(Module("m", [task("t", "a", "b")])).plan(s.config)
    out, buffer = console()
    view = LiveView(graph, out)
    events = EventBus(view)
    engine = s.engine(continue_on_error=True)
    engine.events = events
    await engine.run(graph)
    out.print(view.renderable())
    text = buffer.getvalue()
    assert "6/6" in text
    assert "1 failed" in text
    assert "failed: node3: p/m/t/a" in text


async def test_plan_tree_and_document_show_dry_run_findings() -> None:
    s = await setup(3)
    s.world.already.add(("node1", "init"))
    graph = pipeline(
        Module(
            "m",
            [
                Task("init", [ProbeStep("init")], FirstOf("master")),
                Task("join", [ProbeStep("join")], Named(["node2", "node3"])),
            ],
        )
    ).plan(s.config)
    result = await s.engine().dry_run(graph)
    out, buffer = console()
    out.print(plan_tree(graph, result))
    tree = buffer.getvalue()
    assert "p (2 steps, 3 hosts, 3 step-host pairs)" in tree
    assert "init on first master: node1" in tree
    assert "join on hosts node2, node3: node2, node3 after m/init" in tree
    assert "already done everywhere" in tree
    assert "would change on node2, node3" in tree
    document = plan_document(graph, result)
    assert [node["id"] for node in document["nodes"]] == ["p/m/init/init", "p/m/join/join"]
    assert document["nodes"][1]["would_change"] == ["node2", "node3"]
    assert document["nodes"][1]["depends_on"] == ["p/m/init/init"]
    assert document["dry_run"] == {"would_change": 2, "failed": 0, "outcome": "succeeded"}
    assert s.recorder.of(EventKind.CHANGED) == []


async def test_failures_are_labelled_by_what_happened_in_the_summary() -> None:
    s = await setup(3)
    s.world.fail[("node1", "run a")] = Failure(CommandTimeoutError("node1", "run a", 5))
    s.world.fail[("node2", "run a")] = Failure(SudoError("node2", "sudo refused to run it"))
    s.world.fail[("node3", "run a")] = Failure(HostConnectionError("node3", "connection lost"))
    graph = pipeline(Module("m", [task("t", "a")])).plan(s.config)
    collector = SummaryCollector(["node1", "node2", "node3"])
    engine = s.engine(continue_on_error=True)
    engine.events.subscribe(collector)
    await engine.run(graph)
    hosts = collector.summary.as_dict()["hosts"]
    assert {name: host["labels"] for name, host in hosts.items()} == {
        "node1": ["timed out"],
        "node2": ["sudo refused"],
        "node3": ["unreachable"],
    }
    assert [e.error_label for e in s.recorder.of(EventKind.FAILED)] != []
    out, buffer = console()
    out.print(summary_table(collector.summary))
    rows = {
        line.split("│")[1].strip(): line
        for line in buffer.getvalue().splitlines()
        if "│ node" in line
    }
    assert "timed out" in rows["node1"]
    assert "sudo refused" in rows["node2"]
    assert "unreachable" in rows["node3"]


@dataclass(frozen=True)
class ReleaseStep(ProbeStep):
    """A step that reports its result, as a Helm release does: its status after the run, or
    the one its precheck found when there was nothing to do."""

    reports = True

    async def precheck(self, ctx: Context) -> Change:  # type: ignore[override]
        done = await super().precheck(ctx)
        return Change(not done, self.name, f"{self.name} deployed" if done else "would install")

    async def run(self, ctx: Context) -> Change:
        await super().run(ctx)
        return Change(True, self.name, f"{self.name} deployed, revision 1")


async def test_a_reporting_steps_result_is_in_the_summary_of_a_real_run_and_a_rerun() -> None:
    s = await setup(2)
    graph = pipeline(
        # "web" after "plain": on the rerun its precheck may run ahead (the engine's early
        # verdicts), and its result must be reported all the same
        Module("m", [Task("t", [ProbeStep("plain"), ReleaseStep("web")], FirstOf("master"))])
    ).plan(s.config)
    for expected in ("web deployed, revision 1", "web deployed"):  # installed, then found
        collector = SummaryCollector(["node1", "node2"])
        engine = s.engine()
        engine.events.subscribe(collector)
        assert (await engine.run(graph)).succeeded
        hosts = collector.summary.as_dict()["hosts"]
        # only the reporting step's detail: "plain" said "ok", which is no result
        assert hosts["node1"]["notes"] == {"p/m/t/web": expected}
        assert hosts["node2"]["notes"] == {}
        out, buffer = console()
        out.print(summary_table(collector.summary))
        assert f"node1: m/t/web: {expected}" in buffer.getvalue()
    (event,) = [e for e in s.recorder.of(EventKind.UNCHANGED) if e.note]
    assert event.as_dict()["note"] == "web deployed"
