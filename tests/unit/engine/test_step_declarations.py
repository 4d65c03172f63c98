"""Steps as declarations: params and descriptions come from the dataclass fields, secrets
stay out of plans, and a precheck may say what would change (shown by dry runs)."""

from __future__ import annotations

import enum
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from rich.console import Console

from kubexms.engine import AllHosts as Everywhere
from kubexms.engine import (
    EventKind,
    Module,
    OperationStep,
    PlanError,
    Step,
    SummaryCollector,
    Task,
    plan_document,
    plan_tree,
    secret_field,
)
from kubexms.runner import Change
from kubexms.runtime import Context
from kubexms.testing import cluster_of
from tests.unit.engine.world import pipeline, setup


class Mode(enum.Enum):
    STRICT = "strict"


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str = secret_field()


@dataclass(frozen=True)
class Configure(Step):
    name = "configure"
    description = "write {path} with {keys} ({size:.1f} kB)"

    path: Path
    keys: tuple[str, ...]
    size: float
    mode: Mode = Mode.STRICT
    login: Credentials = Credentials("admin", "hunter2")
    token: str = secret_field(default="s3cret-token")
    labels: dict[str, tuple[int, ...]] = field(default_factory=dict)

    async def precheck(self, ctx: Context) -> bool:
        return False

    async def run(self, ctx: Context) -> Change:
        return Change(True, "configure")


def test_params_come_from_the_fields_as_json_without_secrets() -> None:
    step = Configure(Path("/etc/x.conf"), ("a", "b"), 1.25, labels={"ports": (1, 2)})
    params = step.params()
    assert params == {
        "path": "/etc/x.conf",
        "keys": ["a", "b"],
        "size": 1.25,
        "mode": "strict",
        "login": {"user": "admin"},
        "labels": {"ports": [1, 2]},
    }
    json.dumps(params)
    assert "hunter2" not in repr(step)
    assert "s3cret-token" not in repr(step)


def test_description_is_formatted_from_the_fields() -> None:
    step = Configure(Path("/etc/x.conf"), ("a", "b"), 1.25)
    assert step.describe() == "write /etc/x.conf with a, b (1.2 kB)"


def test_a_description_naming_a_secret_or_unknown_field_is_an_error() -> None:
    @dataclass(frozen=True)
    class Leaky(Configure):
        description = "uses {token}"

    step = Leaky(Path("/x"), (), 0.0)
    with pytest.raises(TypeError, match="names no public field: 'token'"):
        step.describe()


def test_a_field_that_cannot_be_shown_is_named() -> None:
    @dataclass(frozen=True)
    class Opaque(Configure):
        handle: object = field(default_factory=object)

    with pytest.raises(TypeError, match=r"Opaque\.handle is a object"):
        Opaque(Path("/x"), (), 0.0).params()


def test_name_may_be_a_field_without_a_default() -> None:
    @dataclass(frozen=True)
    class Named(Step):
        name: str
        target: str

        async def precheck(self, ctx: Context) -> bool:
            return True

        async def run(self, ctx: Context) -> None:
            return None

    step = Named("n1", "t")
    assert (step.name, step.params()) == ("n1", {"name": "n1", "target": "t"})
    with pytest.raises(TypeError):
        Named("only-one")  # type: ignore[call-arg]


@dataclass(frozen=True)
class Mark(OperationStep):
    """Asks ``precheck <name>``; when not done, ``run <name>`` (unless only checking)."""

    name: str
    description = "mark {name}"

    async def apply(self, ctx: Context, *, check: bool) -> Change:
        done = (await ctx.runner.must_run(f"precheck {self.name}")).stdout == "done"
        if not done and not check:
            await ctx.runner.must_run(f"run {self.name}")
        return Change(not done, f"mark {self.name}", f"{self.name} marked on {ctx.host.name}")


async def test_operation_step_precheck_is_apply_in_check_mode() -> None:
    s = await setup(2)
    s.world.already.add(("node1", "a"))
    graph = pipeline(Module("m", [Task("t", [Mark("a")], Everywhere())])).plan(s.config)
    collector = SummaryCollector(["node1", "node2"])
    engine = s.engine()
    engine.events.subscribe(collector)
    result = await engine.dry_run(graph)
    hosts = collector.summary.as_dict()["hosts"]
    assert (hosts["node1"]["changes"], hosts["node2"]["changes"]) == (
        {},
        {"p/m/t/a": "a marked on node2"},
    )
    assert s.world.commands("run") == []
    assert result.would_change == [("p/m/t/a", "node2")]
    assert result.change_details == {("p/m/t/a", "node2"): "a marked on node2"}
    (would,) = s.recorder.of(EventKind.WOULD_CHANGE)
    assert would.detail == "a marked on node2"

    document = plan_document(graph, result)
    assert document["nodes"][0]["description"] == "mark a"
    assert document["nodes"][0]["changes"] == {"node2": "a marked on node2"}
    buffer = io.StringIO()
    Console(file=buffer, width=200, color_system=None).print(plan_tree(graph, result))
    assert "would change on node2: a marked on node2" in buffer.getvalue()

    applied = await s.engine().run(graph)
    assert applied.succeeded
    assert s.world.commands("run") == [("node2", "a")]
    changed = s.recorder.of(EventKind.CHANGED)
    assert [(e.host, e.detail) for e in changed] == [("node2", "a marked on node2")]


async def test_a_precheck_change_that_would_not_change_counts_as_done() -> None:
    s = await setup(1)
    s.world.already.add(("node1", "a"))
    graph = pipeline(Module("m", [Task("t", [Mark("a")], Everywhere())])).plan(s.config)
    result = await s.engine().run(graph)
    assert result.succeeded
    assert s.world.commands("run") == []
    assert len(s.recorder.of(EventKind.UNCHANGED)) == 1


def test_steps_with_equal_fields_are_still_two_nodes() -> None:
    with pytest.raises(PlanError, match="duplicate node id"):
        pipeline(Module("m", [Task("t", [Mark("a"), Mark("a")], Everywhere())])).plan(cluster_of(1))
