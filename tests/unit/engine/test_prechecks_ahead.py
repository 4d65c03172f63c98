"""Prechecks ahead: while a run has changed nothing, later pairs are prechecked early, and an
early "nothing to do" stands; anything changed or failed sends later pairs back to a precheck in
their turn, so a verdict never rests on a host that has changed since."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from kubexms.engine import AllHosts, EventKind, Module, Step, Task
from kubexms.runner import Change
from kubexms.runtime import Context
from tests.unit.engine.world import Failure, pipeline, setup, task


async def test_a_rerun_asks_each_pair_once_and_reports_everything_unchanged() -> None:
    s = await setup(3, delay=0.01)
    graph = pipeline(Module("m", [task("t", "a", "b", "c")]), Module("n", [task("u", "d")])).plan(
        s.config
    )
    await s.engine().run(graph)
    s.world.log.clear()
    s.recorder.events.clear()
    again = await s.engine().run(graph)
    assert again.counts == {"unchanged": 12}
    # One precheck per pair: an early verdict was not asked a second time in its turn.
    assert sorted(s.world.commands("precheck")) == sorted(
        (host, step) for host in ("node1", "node2", "node3") for step in "abcd"
    )
    assert s.world.commands("run") == []
    started = s.recorder.pairs(EventKind.STARTED)
    assert len(started) == len(set(started)) == 12  # each pair started once


@dataclass
class Probes:
    """How many prechecks are in flight at once, and the most there ever were."""

    now: int = 0
    most: int = 0


@dataclass(frozen=True)
class SlowProbe(Step):
    name: str
    probes: Probes = field(compare=False, repr=False)

    def params(self) -> dict[str, object]:
        return {}

    async def precheck(self, ctx: Context) -> bool:
        self.probes.now += 1
        self.probes.most = max(self.probes.most, self.probes.now)
        await asyncio.sleep(0.01)
        self.probes.now -= 1
        return True

    async def run(self, ctx: Context) -> Change | None:
        raise AssertionError("nothing to do on a rerun")


async def test_the_steps_of_a_chain_are_prechecked_together_and_not_without_the_option() -> None:
    probes = Probes()
    s = await setup(1)
    steps = [SlowProbe(name, probes) for name in "abcde"]
    graph = pipeline(Module("m", [Task("t", steps, AllHosts())])).plan(s.config)
    assert (await s.engine().run(graph)).counts == {"unchanged": 5}
    assert probes.most >= 2  # a chain of five, yet its prechecks overlapped
    probes.most = 0
    result = await s.engine(prechecks_ahead=False).run(graph)
    assert result.counts == {"unchanged": 5}
    assert probes.most == 1  # one after another, each in its turn


@dataclass
class Shared:
    """A fact that one step's run changes and a later step's precheck reads."""

    later_done: bool = True
    later_ran: int = 0


@dataclass(frozen=True)
class Changer(Step):
    name: str
    shared: Shared = field(compare=False, repr=False)

    def params(self) -> dict[str, object]:
        return {}

    async def precheck(self, ctx: Context) -> bool:
        await asyncio.sleep(0.02)  # the later step's early precheck has answered by now
        return False

    async def run(self, ctx: Context) -> Change | None:
        self.shared.later_done = False
        return Change(True, self.name)


@dataclass(frozen=True)
class Reader(Step):
    name: str
    shared: Shared = field(compare=False, repr=False)

    def params(self) -> dict[str, object]:
        return {}

    async def precheck(self, ctx: Context) -> bool:
        return self.shared.later_done

    async def run(self, ctx: Context) -> Change | None:
        self.shared.later_ran += 1
        self.shared.later_done = True
        return Change(True, self.name)


async def test_an_early_verdict_does_not_stand_once_the_run_changed_something() -> None:
    shared = Shared()
    s = await setup(1)
    steps: list[Step] = [Changer("changer", shared), Reader("reader", shared)]
    graph = pipeline(Module("m", [Task("t", steps, AllHosts())])).plan(s.config)
    result = await s.engine().run(graph)
    # Early, the reader found nothing to do; after the changer ran it had something to do.
    assert shared.later_ran == 1
    assert result.counts == {"changed": 2}


async def test_an_early_precheck_that_failed_is_asked_again_in_its_turn() -> None:
    s = await setup(2)
    graph = pipeline(Module("m", [task("t", "a", "b", "c")])).plan(s.config)
    await s.engine().run(graph)
    s.world.log.clear()
    s.world.fail[("node1", "precheck c")] = Failure(code=5, times=1)
    again = await s.engine().run(graph)
    assert again.succeeded
    assert again.counts == {"unchanged": 6}
    assert s.world.commands("precheck").count(("node1", "c")) == 2


async def test_a_dry_run_keeps_early_verdicts_that_something_would_change() -> None:
    s = await setup(2)
    graph = pipeline(Module("m", [task("t", "a", "b", "c")])).plan(s.config)
    result = await s.engine().dry_run(graph)
    assert sorted(result.would_change) == sorted(
        (f"p/m/t/{step}", host) for host in ("node1", "node2") for step in "abc"
    )
    assert len(s.world.commands("precheck")) == 6  # each pair asked once
    assert s.world.commands("run") == []


@dataclass(frozen=True)
class Reporter(Step):
    """Nothing to do, and says what it found (like a Helm release's status)."""

    name: str
    reports = True

    async def precheck(self, ctx: Context) -> Change:
        return Change(False, self.name, f"{self.name} found as wanted")

    async def run(self, ctx: Context) -> Change | None:
        raise AssertionError("nothing to do")


async def test_a_reporting_step_keeps_what_its_early_precheck_found() -> None:
    s = await setup(1)
    steps = [Reporter("first"), Reporter("second"), Reporter("third")]
    graph = pipeline(Module("m", [Task("t", steps, AllHosts())])).plan(s.config)
    assert (await s.engine().run(graph)).counts == {"unchanged": 3}
    found = {e.node: e.detail for e in s.recorder.of(EventKind.UNCHANGED)}
    assert found == {
        f"p/m/t/{name}": f"{name} found as wanted" for name in ("first", "second", "third")
    }
