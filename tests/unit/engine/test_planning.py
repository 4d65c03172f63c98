"""Planning: namespaced ids, ordering, host selection in config order, and every way a plan
can be wrong (duplicates, cycles, planner exceptions, nothing to do) failing loudly."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from kubexms.config import Cluster, ResolvedHost
from kubexms.connector import Connector
from kubexms.engine import (
    AllHosts,
    ControlMachine,
    ExecutionGraph,
    FirstOf,
    Inventory,
    Module,
    Named,
    Pipeline,
    PlanContext,
    PlanError,
    Roles,
    Task,
    branches,
)
from kubexms.runtime import new_runtime
from kubexms.testing import MemoryConnector, cluster_of
from tests.unit.engine.world import ProbeStep, pipeline, task


def plan(*modules: Module, config: Cluster | None = None) -> ExecutionGraph:
    return pipeline(*modules).plan(config or cluster_of(3))


def deps(graph: ExecutionGraph, node: str) -> set[str]:
    return set(graph.dependencies[node])


def test_node_ids_are_namespaced_and_steps_chain_within_a_task() -> None:
    graph = plan(Module("m", [task("t", "a", "b", "c")]))
    assert list(graph.nodes) == ["p/m/t/a", "p/m/t/b", "p/m/t/c"]
    assert deps(graph, "p/m/t/a") == set()
    assert deps(graph, "p/m/t/b") == {"p/m/t/a"}
    assert deps(graph, "p/m/t/c") == {"p/m/t/b"}
    assert graph.nodes["p/m/t/b"].hosts == ("node1", "node2", "node3")


def test_same_step_name_in_different_tasks_does_not_collide() -> None:
    # The Go original used bare step names as ids; two "install" steps broke planning.
    graph = plan(Module("m", [task("etcd", "install"), task("containerd", "install")]))
    assert {"p/m/etcd/install", "p/m/containerd/install"} <= graph.nodes.keys()


def test_tasks_run_in_order_and_modules_in_order() -> None:
    graph = plan(
        Module("first", [task("x", "a"), task("y", "b")]),
        Module("second", [task("z", "c")]),
    )
    assert deps(graph, "p/first/y/b") == {"p/first/x/a"}
    assert deps(graph, "p/second/z/c") == {"p/first/y/b"}
    assert graph.order.index("p/first/x/a") < graph.order.index("p/second/z/c")


def test_the_steps_of_a_task_declared_together_run_at_once_and_what_follows_waits_for_all() -> None:
    steps = [ProbeStep(name) for name in ("a", "b", "c")]
    graph = plan(
        Module("checks", [Task("t", steps, AllHosts(), together=True), task("u", "d")]),
        Module("next", [task("v", "e")]),
    )
    assert all(deps(graph, f"p/checks/t/{name}") == set() for name in "abc")
    assert deps(graph, "p/checks/u/d") == {"p/checks/t/a", "p/checks/t/b", "p/checks/t/c"}
    assert deps(graph, "p/next/v/e") == {"p/checks/u/d"}
    alone = plan(
        Module("checks", [Task("t", steps, AllHosts(), together=True)]),
        Module("n", [task("v", "e")]),
    )
    assert deps(alone, "p/n/v/e") == {"p/checks/t/a", "p/checks/t/b", "p/checks/t/c"}


def test_parallel_branches_with_explicit_after() -> None:
    graph = plan(
        Module("pre", [task("check", "ok")]),
        Module(
            "m",
            [
                task("a", "a1", "a2", after=()),
                task("b", "b1", after=()),
                task("c", "c1", after=["a", "b"]),
            ],
        ),
        Module("post", [task("d", "d1")]),
    )
    # a and b are independent branches; both start after the previous module.
    assert deps(graph, "p/m/a/a1") == {"p/pre/check/ok"}
    assert deps(graph, "p/m/b/b1") == {"p/pre/check/ok"}
    assert deps(graph, "p/m/c/c1") == {"p/m/a/a2", "p/m/b/b1"}
    # The next module waits only for the ends of the branches (here: c).
    assert deps(graph, "p/post/d/d1") == {"p/m/c/c1"}


def test_next_module_waits_for_every_open_branch() -> None:
    graph = plan(
        Module("m", [task("a", "a1", after=()), task("b", "b1", after=())]),
        Module("n", [task("c", "c1")]),
    )
    assert deps(graph, "p/n/c/c1") == {"p/m/a/a1", "p/m/b/b1"}


def test_task_without_hosts_passes_ordering_through() -> None:
    graph = plan(
        Module(
            "m",
            [task("a", "a1"), task("lb", "haproxy", hosts=Roles("loadbalancer")), task("c", "c1")],
        )
    )
    assert "p/m/lb/haproxy" not in graph.nodes
    assert deps(graph, "p/m/c/c1") == {"p/m/a/a1"}


def test_host_selection_keeps_config_order_not_role_group_order() -> None:
    config = Cluster.model_validate(
        {
            "apiVersion": "kubexms.io/v1alpha1",
            "kind": "Cluster",
            "metadata": {"name": "order"},
            "spec": {
                "hosts": [
                    {"name": name, "address": f"10.213.9.{index}"}
                    for index, name in enumerate(["alpha", "bravo", "charlie", "delta"], 1)
                ],
                "roleGroups": {
                    "master": ["delta", "bravo", "charlie"],
                    "etcd": ["delta", "bravo", "charlie"],
                    "worker": ["alpha"],
                },
                "controlPlaneEndpoint": {"domain": "lb.order.local", "address": "10.213.9.100"},
            },
        }
    )
    graph = plan(
        Module(
            "m",
            [
                Task("init", [ProbeStep("kubeadm-init")], FirstOf("master")),
                Task("join", [ProbeStep("kubeadm-join")], Roles("master")),
                Task("named", [ProbeStep("x")], Named(["delta", "alpha"])),
            ],
        ),
        config=config,
    )
    assert graph.nodes["p/m/init/kubeadm-init"].hosts == ("bravo",)
    assert graph.nodes["p/m/join/kubeadm-join"].hosts == ("bravo", "charlie", "delta")
    assert graph.nodes["p/m/named/x"].hosts == ("alpha", "delta")


async def test_first_master_does_not_depend_on_connection_order() -> None:
    config = cluster_of(5, masters=3)
    delays = {"node1": 0.05, "node2": 0.03, "node3": 0.0, "node4": 0.02, "node5": 0.01}
    connected: list[str] = []

    class Slow(MemoryConnector):
        async def connect(self) -> None:
            await asyncio.sleep(delays[self.name])
            connected.append(self.name)
            await super().connect()

    def build(spec: ResolvedHost) -> Connector:
        return Slow(spec.name)

    async with await new_runtime(config, connector_factory=build) as runtime:
        assert connected[0] == "node3"  # the last master connected first...
        first = Task("init", [ProbeStep("init")], FirstOf("master"))
        for _ in range(3):
            graph = Pipeline("p", [Module("m", [first])]).plan(config)
            assert graph.nodes["p/m/init/init"].hosts == ("node1",)  # ...and is still not first
        assert runtime.first_with_role("master").name == "node1"


def test_duplicate_step_names_in_a_task_are_rejected() -> None:
    with pytest.raises(PlanError, match=r"duplicate node id 'p/m/t/a'"):
        plan(Module("m", [task("t", "a", "b", "a")]))


def test_duplicate_task_and_module_names_are_rejected() -> None:
    with pytest.raises(PlanError, match=r"module m: two parts are named 't'"):
        plan(Module("m", [task("t", "a"), task("t", "b")]))
    with pytest.raises(PlanError, match=r"pipeline p: two parts are named 'm'"):
        plan(Module("m", [task("t", "a")]), Module("m", [task("u", "b")]))


def test_cycles_are_rejected_naming_the_cycle() -> None:
    looping = Module(
        "m",
        [task("a", "a1", after=["c"]), task("b", "b1", after=["a"]), task("c", "c1", after=["b"])],
    )
    with pytest.raises(PlanError, match=r"module m: the ordering has a cycle: .*->"):
        plan(looping)


def test_unknown_names_in_ordering_are_rejected() -> None:
    with pytest.raises(PlanError, match=r"'nope', which is not a part"):
        plan(Module("m", [task("a", "a1", after=["nope"])]))


def test_a_graph_with_a_cycle_is_rejected_even_if_built_by_hand() -> None:
    graph = plan(Module("m", [task("t", "a", "b")]))
    with pytest.raises(PlanError, match="cycle"):
        ExecutionGraph(
            "p",
            graph.nodes,
            {"p/m/t/a": {"p/m/t/b"}, "p/m/t/b": {"p/m/t/a"}},
        )


def test_planner_exception_fails_planning_instead_of_an_empty_plan() -> None:
    class Broken(Module):
        name = "broken"

        def tasks(self, ctx: PlanContext) -> Sequence[Task]:
            raise RuntimeError("cannot read spec.kubernetes.version")

    with pytest.raises(PlanError, match=r"module broken: planning failed: RuntimeError: cannot"):
        plan(Module("ok", [task("t", "a")]), Broken())


def test_selector_errors_fail_planning() -> None:
    with pytest.raises(PlanError, match="no host has the role 'registry'"):
        plan(Module("m", [Task("t", [ProbeStep("a")], FirstOf("registry"))]))
    with pytest.raises(PlanError, match="no host named 'ghost'"):
        plan(Module("m", [Task("t", [ProbeStep("a")], Named(["ghost"]))]))


def test_a_plan_with_nothing_to_do_is_an_error() -> None:
    with pytest.raises(PlanError, match="the plan has no steps"):
        plan(Module("m", [task("lb", "haproxy", hosts=Roles("loadbalancer"))]))


@pytest.mark.parametrize("bad", ["", "a/b", "-x", "with space"])
def test_names_that_break_node_ids_are_rejected(bad: str) -> None:
    with pytest.raises(PlanError, match="not usable in a node id"):
        plan(Module("m", [task("t", bad)]))


def test_control_machine_nodes_and_inventory() -> None:
    graph = plan(Module("m", [Task("fetch", [ProbeStep("download")], ControlMachine())]))
    assert graph.nodes["p/m/fetch/download"].hosts == ("@control",)
    inventory = Inventory.from_cluster(cluster_of(4, masters=3))
    assert inventory.with_role("master") == ["node1", "node2", "node3"]
    assert AllHosts().select(inventory) == ["node1", "node2", "node3", "node4"]


def test_fingerprint_changes_with_the_plan() -> None:
    one = plan(Module("m", [task("t", "a", "b")]))
    same = plan(Module("m", [task("t", "a", "b")]))
    other = plan(Module("m", [task("t", "a", "c")]))
    fewer_hosts = pipeline(Module("m", [task("t", "a", "b")])).plan(cluster_of(2))
    assert one.fingerprint() == same.fingerprint()
    assert len({one.fingerprint(), other.fingerprint(), fewer_hosts.fingerprint()}) == 3


def test_an_unknown_role_is_a_plan_error_not_an_empty_selection() -> None:
    with pytest.raises(PlanError, match=r"unknown role 'masters'; roles are master, worker"):
        Roles("masters")  # type: ignore[arg-type]
    with pytest.raises(PlanError, match=r"unknown role 'workers'"):
        FirstOf("workers")  # type: ignore[arg-type]

    class Misspelled(Module):
        name = "m"

        def tasks(self, ctx: PlanContext) -> Sequence[Task]:
            return [Task("t", [ProbeStep("a")], Roles("master", "lb"))]  # type: ignore[arg-type]

    with pytest.raises(PlanError, match=r"module m: unknown role 'lb'"):
        plan(Misspelled())
    # A known role that no host has still selects nothing.
    assert Roles("registry").select(Inventory.from_cluster(cluster_of(2))) == []


def test_tasks_declare_their_order_and_modules_cannot_compute_one() -> None:
    graph = plan(Module("m", [task("a", "a1"), task("b", "b1"), task("c", "c1", after=["a"])]))
    assert deps(graph, "p/m/b/b1") == {"p/m/a/a1"}  # by default: after the one before
    assert deps(graph, "p/m/c/c1") == {"p/m/a/a1"}
    parallel = branches([task("x", "x1"), task("y", "y1")], {"y": ["x"]})
    assert [t.after for t in parallel] == [(), ("x",)]
    with pytest.raises(TypeError, match=r"Legacy\.ordering: .*Task\(\.\.\., after="):

        class Legacy(Module):
            def ordering(self) -> None: ...
