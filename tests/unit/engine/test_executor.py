"""Executor semantics on in-memory hosts: ordering, fail-fast, continue-on-error, skipping of
dependents, retries only for retryable errors, limits, rollback, events."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass

import pytest

from kubexms.connector import AuthenticationError, HostConnectionError, HostKeyError
from kubexms.engine import (
    PAIR_RESULTS,
    AllHosts,
    DataKey,
    EventKind,
    FirstOf,
    Module,
    Named,
    RetryPolicy,
    ReversibleStep,
    Task,
)
from kubexms.runner import Change
from kubexms.runtime import Context
from tests.unit.engine.world import Failure, ProbeStep, pipeline, setup, task


async def test_runs_every_step_on_every_host_in_dependency_order() -> None:
    s = await setup(3)
    graph = pipeline(Module("m", [task("t", "a", "b")]), Module("n", [task("u", "c")])).plan(
        s.config
    )
    result = await s.engine().run(graph)
    assert result.succeeded
    for host in ("node1", "node2", "node3"):
        assert s.world.ran(host) == ["a", "b", "c"]
    assert result.counts == {"changed": 9}
    # Each pair has exactly one result event, after its start.
    results = s.recorder.pairs(*PAIR_RESULTS)
    assert len(results) == len(set(results)) == 9
    assert len(s.recorder.pairs(EventKind.STARTED)) == 9


async def test_second_run_reports_everything_unchanged() -> None:
    s = await setup(2)
    graph = pipeline(Module("m", [task("t", "a", "b")])).plan(s.config)
    await s.engine().run(graph)
    s.recorder.events.clear()
    again = await s.engine().run(graph)
    assert again.counts == {"unchanged": 4}
    assert s.world.ran("node1") == ["a", "b"]  # nothing ran twice


async def test_fail_fast_stops_new_work_and_skips_the_rest() -> None:
    s = await setup(3, delay=0.01)
    s.world.fail[("node2", "run b")] = Failure(code=3)
    graph = pipeline(Module("m", [task("t", "a", "b", "c")])).plan(s.config)
    result = await s.engine().run(graph)
    assert not result.succeeded
    assert result.outcome == "failed"
    assert [(f.node, f.host) for f in result.failures] == [("p/m/t/b", "node2")]
    assert "exited 3" in result.failures[0].error
    assert result.failed_hosts == ["node2"]
    # Pairs already running on the other hosts finished; nothing started afterwards.
    assert s.world.ran("node1") == ["a", "b"]
    assert s.world.ran("node3") == ["a", "b"]
    # c may have been prechecked ahead (only read); it never ran anywhere.
    assert [step for _, step in s.world.commands("run")].count("c") == 0
    skipped = s.recorder.of(EventKind.SKIPPED)
    assert {(e.node, e.host) for e in skipped} == {
        ("p/m/t/c", "node1"),
        ("p/m/t/c", "node2"),
        ("p/m/t/c", "node3"),
    }
    assert all("stopped after p/m/t/b failed on node2" in e.detail for e in skipped)


async def test_fail_fast_does_not_start_hosts_waiting_for_a_slot() -> None:
    s = await setup(6)
    s.world.fail[("node1", "run a")] = Failure(code=1)
    graph = pipeline(Module("m", [task("t", "a")])).plan(s.config)
    result = await s.engine(concurrency=1).run(graph)
    assert [f.host for f in result.failures] == ["node1"]
    assert s.world.commands("precheck") == [("node1", "a")]
    assert len(s.recorder.of(EventKind.SKIPPED)) == 5


async def test_continue_on_error_drops_failed_hosts_and_finishes_the_rest() -> None:
    s = await setup(3)
    s.world.fail[("node2", "run a")] = Failure(code=1)
    graph = pipeline(Module("m", [task("t", "a", "b")]), Module("n", [task("u", "c")])).plan(
        s.config
    )
    result = await s.engine(continue_on_error=True).run(graph)
    assert not result.succeeded
    assert result.failed_hosts == ["node2"]
    assert s.world.ran("node1") == ["a", "b", "c"]
    assert s.world.ran("node3") == ["a", "b", "c"]
    assert s.world.ran("node2") == []
    skipped = {(e.node, e.host): e.detail for e in s.recorder.of(EventKind.SKIPPED)}
    assert skipped == {
        ("p/m/t/b", "node2"): "node2 failed earlier, at p/m/t/a",
        ("p/n/u/c", "node2"): "node2 failed earlier, at p/m/t/a",
    }


async def test_continue_on_error_fails_hosts_unreachable_at_start_and_finishes_the_rest() -> None:
    down = HostConnectionError("node2", "connection refused")
    s = await setup(3, unreachable={"node2": down})
    assert [host.name for host in s.runtime.hosts] == ["node1", "node3"]
    graph = pipeline(Module("m", [task("t", "a", "b")]), Module("n", [task("u", "c")])).plan(
        s.config
    )
    result = await s.engine(continue_on_error=True).run(graph)
    assert not result.succeeded
    assert result.failed_hosts == ["node2"]
    assert s.world.ran("node1") == ["a", "b", "c"]
    assert s.world.ran("node3") == ["a", "b", "c"]
    (failure,) = result.failures
    assert (failure.node, failure.host) == ("p/m/t/a", "node2")
    assert "connection refused" in failure.error
    skipped = {(e.node, e.host): e.detail for e in s.recorder.of(EventKind.SKIPPED)}
    assert skipped == {
        ("p/m/t/b", "node2"): "node2 failed earlier, at p/m/t/a",
        ("p/n/u/c", "node2"): "node2 failed earlier, at p/m/t/a",
    }


async def test_dependents_of_a_failed_node_are_skipped_independent_branches_finish() -> None:
    s = await setup(3)
    s.world.fail[("node1", "run init")] = Failure(code=1)
    graph = pipeline(
        Module(
            "m",
            [
                Task("init", [ProbeStep("init")], FirstOf("master"), after=()),
                Task("join", [ProbeStep("join")], Named(["node2", "node3"]), after=["init"]),
                Task(
                    "other", [ProbeStep("other1"), ProbeStep("other2")], Named(["node3"]), after=()
                ),
            ],
        )
    ).plan(s.config)
    result = await s.engine(continue_on_error=True).run(graph)
    assert [(f.node, f.host) for f in result.failures] == [("p/m/init/init", "node1")]
    # The join depends on an init that completed nowhere: skipped on hosts that are healthy.
    joins = [e for e in s.recorder.of(EventKind.SKIPPED) if e.node == "p/m/join/join"]
    assert {e.host for e in joins} == {"node2", "node3"}
    assert all("depends on p/m/init/init, which completed on no host" in e.detail for e in joins)
    # The independent branch ran to its end.
    assert s.world.ran("node3") == ["other1", "other2"]


async def test_retryable_errors_are_retried_then_succeed() -> None:
    s = await setup(2)
    s.world.fail[("node1", "run a")] = Failure(HostConnectionError("node1", "reset"), times=2)
    graph = pipeline(Module("m", [task("t", "a")])).plan(s.config)
    result = await s.engine().run(graph)
    assert result.succeeded
    retried = s.recorder.of(EventKind.RETRIED)
    assert [(e.host, e.attempt) for e in retried] == [("node1", 1), ("node1", 2)]
    assert "reset" in retried[0].error
    assert s.world.commands("run").count(("node1", "a")) == 3
    # A retry starts over with the precheck.
    assert s.world.commands("precheck").count(("node1", "a")) == 3


async def test_retries_run_out() -> None:
    s = await setup(1)
    s.world.fail[("node1", "run a")] = Failure(HostConnectionError("node1", "unreachable"))
    graph = pipeline(Module("m", [task("t", "a")])).plan(s.config)
    result = await s.engine(retry=RetryPolicy(retries=3, base_delay=0.0)).run(graph)
    assert s.world.commands("run").count(("node1", "a")) == 4
    assert result.failures[0].error_type == "HostConnectionError"


@pytest.mark.parametrize(
    "failure",
    [
        Failure(code=2),  # the command failed: retrying the same thing cannot help
        Failure(AuthenticationError("node1", "permission denied")),
        Failure(HostKeyError("node1", "host key changed")),
    ],
    ids=["command-failed", "authentication", "host-key"],
)
async def test_non_retryable_errors_are_not_retried(failure: Failure) -> None:
    s = await setup(1)
    s.world.fail[("node1", "run a")] = failure
    graph = pipeline(Module("m", [task("t", "a")])).plan(s.config)
    result = await s.engine(retry=RetryPolicy(retries=5, base_delay=0.0)).run(graph)
    assert s.world.commands("run").count(("node1", "a")) == 1
    assert not s.recorder.of(EventKind.RETRIED)
    assert len(result.failures) == 1


async def test_retry_backoff_grows_with_jitter() -> None:
    policy = RetryPolicy(retries=5, base_delay=1.0, max_delay=6.0)
    for retry, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 6.0), (5, 6.0)]:
        delays = {policy.delay(retry) for _ in range(50)}
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
        assert len(delays) > 1  # jitter: not all the same


async def test_global_and_upload_limits_hold() -> None:
    s = await setup(12)
    in_flight: Counter[str] = Counter()
    peak: Counter[str] = Counter()

    class Measured(ProbeStep):
        async def run(self, ctx: Context) -> Change | None:
            kinds = ["all", "upload"] if self.uploads else ["all"]
            in_flight.update(kinds)
            for kind in kinds:
                peak[kind] = max(peak[kind], in_flight[kind])
            await asyncio.sleep(0.01)
            in_flight.subtract(kinds)
            return await super().run(ctx)

    class Upload(Measured):
        uploads = True

    graph = pipeline(
        Module(
            "m",
            [
                Task("plain", [Measured("plain")], AllHosts(), after=()),
                Task("upload", [Upload("upload")], AllHosts(), after=()),
            ],
        )
    ).plan(s.config)
    result = await s.engine(concurrency=5, upload_concurrency=2).run(graph)
    assert result.succeeded
    assert peak["all"] == 5
    assert peak["upload"] == 2


async def test_concurrency_limit_applies_across_hosts() -> None:
    s = await setup(10)
    active = 0
    peak = 0

    class Slow(ProbeStep):
        async def run(self, ctx: Context) -> Change | None:
            nonlocal active, peak
            active += 1
            peak = max(peak, active)
            await asyncio.sleep(0.01)
            active -= 1
            return await super().run(ctx)

    graph = pipeline(
        Module(
            "m",
            [Task(f"t{i}", [Slow("a")], Named([f"node{i}"]), after=()) for i in range(1, 11)],
        )
    ).plan(s.config)
    await s.engine(concurrency=3).run(graph)
    assert peak == 3


SAVED: DataKey[str] = DataKey("saved-config", str)


@dataclass(frozen=True)
class WriteConfig(ReversibleStep):
    """Saves the old content before changing it; rollback restores it."""

    name = "write-config"

    async def precheck(self, ctx: Context) -> bool:
        return (await ctx.runner.run("precheck write-config")).stdout == "done"

    async def run(self, ctx: Context) -> Change | None:
        ctx.shared_data.set(SAVED, (await ctx.runner.run("cat config")).stdout)
        await ctx.runner.must_run("run write-config")
        return Change(True, "write config")

    async def rollback(self, ctx: Context) -> None:
        await ctx.runner.must_run(f"restore {ctx.shared_data.get(SAVED)}")


async def test_rollback_runs_for_the_failing_step_only() -> None:
    s = await setup(2)
    s.world.fail[("node2", "run write-config")] = Failure(code=1)
    graph = pipeline(
        Module("m", [Task("t", [ProbeStep("before"), WriteConfig()], Named(["node1", "node2"]))])
    ).plan(s.config)
    result = await s.engine().run(graph)
    assert [f.host for f in result.failures] == ["node2"]
    assert ("node2", "restore ok") in s.world.log
    assert ("node1", "restore ok") not in s.world.log
    rolled = s.recorder.of(EventKind.ROLLED_BACK)
    assert [(e.node, e.host) for e in rolled] == [("p/m/t/write-config", "node2")]


async def test_failed_rollback_is_reported() -> None:
    s = await setup(1)
    s.world.fail[("node1", "run write-config")] = Failure(code=1)
    s.world.fail[("node1", "restore ok")] = Failure(code=9)
    graph = pipeline(Module("m", [Task("t", [WriteConfig()], FirstOf("master"))])).plan(s.config)
    await s.engine().run(graph)
    (failed,) = s.recorder.of(EventKind.ROLLBACK_FAILED)
    assert "exited 9" in failed.error


async def test_a_step_error_of_any_kind_fails_the_pair_not_the_engine() -> None:
    s = await setup(2)

    class Buggy(ProbeStep):
        async def run(self, ctx: Context) -> Change | None:
            if ctx.host.name == "node1":
                raise ValueError("bad value in step")
            return await super().run(ctx)

    graph = pipeline(Module("m", [Task("t", [Buggy("x")], Named(["node1", "node2"]))])).plan(
        s.config
    )
    result = await s.engine(continue_on_error=True).run(graph)
    assert [(f.host, f.error_type, f.error) for f in result.failures] == [
        ("node1", "ValueError", "bad value in step")
    ]
    assert s.world.ran("node2") == ["x"]


async def test_reading_data_no_step_wrote_names_the_key() -> None:
    s = await setup(1)
    token: DataKey[str] = DataKey("join-token", str)

    class Join(ProbeStep):
        async def run(self, ctx: Context) -> Change | None:
            ctx.cluster_data.get(token)
            return None

    graph = pipeline(Module("m", [Task("t", [Join("join")], FirstOf("master"))])).plan(s.config)
    result = await s.engine().run(graph)
    assert "'join-token'" in result.failures[0].error
    assert "no earlier step wrote it" in result.failures[0].error


async def test_cluster_data_crosses_hosts_shared_data_does_not() -> None:
    s = await setup(3)
    token: DataKey[str] = DataKey("join-token", str)
    seen: dict[str, object] = {}

    class Make(ProbeStep):
        async def run(self, ctx: Context) -> Change | None:
            ctx.cluster_data.set(token, f"token-from-{ctx.host.name}")
            ctx.shared_data.set("mine", ctx.host.name)
            return await super().run(ctx)

    class Use(ProbeStep):
        async def run(self, ctx: Context) -> Change | None:
            seen[ctx.host.name] = (
                ctx.cluster_data.get(token),
                ctx.shared_data.get_or("mine", None),
            )
            return await super().run(ctx)

    graph = pipeline(
        Module(
            "m",
            [
                Task("make", [Make("make")], FirstOf("master")),
                Task("use", [Use("use")], Named(["node2", "node3"])),
            ],
        )
    ).plan(s.config)
    assert (await s.engine().run(graph)).succeeded
    assert seen == {"node2": ("token-from-node1", None), "node3": ("token-from-node1", None)}
    with pytest.raises(TypeError, match="'join-token' holds str, not int"):
        s.runtime.cluster_data.set(token, 5)  # type: ignore[misc]


async def test_dry_run_only_prechecks() -> None:
    s = await setup(2)
    s.world.already.add(("node1", "a"))
    graph = pipeline(Module("m", [task("t", "a", "b")])).plan(s.config)
    result = await s.engine().dry_run(graph)
    assert result.succeeded
    assert s.world.commands("run") == []
    assert sorted(result.would_change) == [
        ("p/m/t/a", "node2"),
        ("p/m/t/b", "node1"),
        ("p/m/t/b", "node2"),
    ]
    assert len(s.recorder.of(EventKind.UNCHANGED)) == 1
