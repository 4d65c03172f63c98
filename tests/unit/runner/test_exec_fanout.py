"""`kubexms exec` fan-out: per-host outcomes in config order, failures kept, outputs folded."""

from __future__ import annotations

import asyncio
import json

import pytest

from kubexms.cli._exec import HostOutcome, fan_out, group_outcomes, render_json, select_hosts
from kubexms.config import Cluster, ResolvedHost, parse_config
from kubexms.connector import Connector, HostConnectionError
from tests.unit.runner.fakes import Call, ScriptedConnector

CLUSTER = """
apiVersion: kubexms.io/v1alpha1
kind: Cluster
metadata: {name: t}
spec:
  hosts:
  - {name: a1, address: 192.0.2.1, password: x}
  - {name: a2, address: 192.0.2.2, password: x}
  - {name: b1, address: 192.0.2.3, password: x}
  - {name: b2, address: 192.0.2.4, password: x}
  roleGroups:
    master: [a1]
    etcd: [a1]
    worker: [a2, b1, b2]
"""


@pytest.fixture
def cluster() -> Cluster:
    return parse_config(CLUSTER)


class Unreachable(ScriptedConnector):
    async def connect(self) -> None:
        raise HostConnectionError(self.name, "connection refused")


def test_select_hosts_by_role_and_name(cluster: Cluster) -> None:
    assert [h.name for h in select_hosts(cluster, role="worker", names=None)] == ["a2", "b1", "b2"]
    assert [h.name for h in select_hosts(cluster, role=None, names=["b2", "a1"])] == ["a1", "b2"]
    with pytest.raises(ValueError, match="nosuch"):
        select_hosts(cluster, role=None, names=["nosuch"])
    with pytest.raises(ValueError, match="role 'loadbalancer'"):
        select_hosts(cluster, role="loadbalancer", names=None)


async def test_fan_out_keeps_order_and_reports_unreachable_hosts(cluster: Cluster) -> None:
    made: list[Connector] = []

    def factory(host: ResolvedHost) -> Connector:
        def answer(call: Call) -> tuple[int, str]:
            return (0, "same\n") if host.name != "b1" else (3, "different\n")

        connector: Connector = (
            Unreachable(answer, name=host.name)
            if host.name == "a2"
            else ScriptedConnector(answer, name=host.name)
        )
        made.append(connector)
        return connector

    finished: list[str] = []
    outcomes = await fan_out(
        cluster,
        cluster.resolved_hosts(),
        "uname -a",
        sudo=True,
        concurrency=2,
        connector_factory=factory,
        on_done=lambda outcome: finished.append(outcome.host),
    )
    assert [o.host for o in outcomes] == ["a1", "a2", "b1", "b2"]
    assert sorted(finished) == ["a1", "a2", "b1", "b2"]
    assert outcomes[1].error == "connection refused"
    assert [o.ok for o in outcomes] == [True, False, False, True]
    calls = [c for m in made if isinstance(m, ScriptedConnector) for c in m.calls]
    assert {c.command for c in calls} == {"uname -a"}
    assert all(c.sudo for c in calls)
    groups = group_outcomes(outcomes)
    assert [names for names, _ in groups] == [["a1", "b2"], ["a2"], ["b1"]]
    data = json.loads(render_json(outcomes))
    assert data["failed"] == ["a2", "b1"]
    assert data["hosts"]["b1"]["exit_code"] == 3
    assert data["hosts"]["a2"]["error"] == "connection refused"


async def test_fan_out_respects_the_concurrency_limit(cluster: Cluster) -> None:
    running = 0
    peak = 0

    class Slow(ScriptedConnector):
        async def run(self, command: str, **kwargs: object) -> object:  # type: ignore[override]
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.05)
            running -= 1
            return await super().run(command)

    await fan_out(
        cluster,
        cluster.resolved_hosts(),
        "true",
        concurrency=2,
        connector_factory=lambda host: Slow(name=host.name),
    )
    assert peak == 2


def test_identical_outputs_fold_but_exit_codes_split() -> None:
    outcomes = [
        HostOutcome("x", 0, "out", "", 0.1),
        HostOutcome("y", 1, "out", "", 0.1),
        HostOutcome("z", 0, "out", "", 0.2),
    ]
    assert [names for names, _ in group_outcomes(outcomes)] == [["x", "z"], ["y"]]
