"""new_runtime and ClusterRuntime over in-memory connectors (no network)."""

from __future__ import annotations

import asyncio
import random

import pytest

from kubexms.config import Cluster, ResolvedHost, parse_config
from kubexms.connector import (
    AuthenticationError,
    Connector,
    HostConnectionError,
    HostKeyError,
)
from kubexms.runtime import InitializationError, MissingDataError, new_runtime
from kubexms.testing import MemoryConnector


class GaugedConnector(MemoryConnector):
    """Counts how many connects are in progress at once."""

    def __init__(self, name: str, gauge: ConcurrencyGauge, *, connect_delay: float) -> None:
        super().__init__(name, connect_delay=connect_delay)
        self.gauge = gauge

    async def connect(self) -> None:
        self.gauge.enter()
        try:
            await super().connect()
        finally:
            self.gauge.leave()


class ConcurrencyGauge:
    def __init__(self) -> None:
        self.now = 0
        self.peak = 0

    def enter(self) -> None:
        self.now += 1
        self.peak = max(self.peak, self.now)

    def leave(self) -> None:
        self.now -= 1


def cluster_of(count: int, **global_settings: object) -> Cluster:
    names = [f"node{index:02d}" for index in range(1, count + 1)]
    hosts = "\n".join(
        f"    - {{name: {name}, address: 10.213.9.{index}}}" for index, name in enumerate(names, 1)
    )
    global_lines = "".join(f"    {key}: {value}\n" for key, value in global_settings.items())
    text = (
        "apiVersion: kubexms.io/v1alpha1\nkind: Cluster\nmetadata: {name: t}\nspec:\n"
        f"  hosts:\n{hosts}\n"
        f"  roleGroups:\n    master: [{names[0]}]\n    etcd: [{names[0]}]\n"
        f'    worker: ["node[01:{count:02d}]"]\n'
        f"  global:\n    privateKeyPath: /nonexistent/key\n{global_lines}"
    )
    return parse_config(text)


async def test_hosts_keep_config_order_whatever_order_they_connect_in() -> None:
    cluster = cluster_of(20)
    expected = [host.name for host in cluster.resolved_hosts()]
    for seed in range(5):
        rng = random.Random(seed)

        def factory(spec: ResolvedHost, rng: random.Random = rng) -> Connector:
            return MemoryConnector(spec.name, connect_delay=rng.uniform(0, 0.02))

        async with await new_runtime(cluster, connector_factory=factory) as runtime:
            assert [host.name for host in runtime.hosts] == expected
            assert list(runtime.inventory) == expected
            assert runtime.first_with_role("master").name == "node01"
            assert [h.name for h in runtime.hosts_with_role("worker")] == expected


async def test_every_failure_is_gathered_and_opened_connections_are_closed() -> None:
    cluster = cluster_of(6)
    made: dict[str, MemoryConnector] = {}
    causes: dict[str, BaseException] = {
        "node02": HostConnectionError("node02", "connection refused"),
        "node04": AuthenticationError("node04", "permission denied"),
        "node06": HostKeyError("node06", "host key mismatch"),
    }

    def factory(spec: ResolvedHost) -> Connector:
        made[spec.name] = MemoryConnector(spec.name, connect_error=causes.get(spec.name))
        return made[spec.name]

    with pytest.raises(InitializationError) as caught:
        await new_runtime(cluster, connector_factory=factory)
    error = caught.value
    assert error.failed_hosts == ["node02", "node04", "node06"]
    assert [type(e) for e in error.errors] == [
        HostConnectionError,
        AuthenticationError,
        HostKeyError,
    ]
    assert "3 hosts" in str(error)
    assert all(name in str(error) for name in ("node02", "node04", "node06"))
    assert all(
        connector.close_count >= 1 and not connector.connected for connector in made.values()
    )


async def test_a_host_that_hangs_fails_at_the_overall_timeout() -> None:
    cluster = cluster_of(3, connectionTimeout=0.2)
    made: list[MemoryConnector] = []

    def factory(spec: ResolvedHost) -> Connector:
        made.append(MemoryConnector(spec.name, connect_delay=30 if spec.name == "node03" else 0))
        return made[-1]

    started = asyncio.get_running_loop().time()
    with pytest.raises(InitializationError) as caught:
        await new_runtime(cluster, connector_factory=factory)
    assert asyncio.get_running_loop().time() - started < 5
    (only,) = caught.value.errors
    assert isinstance(only, HostConnectionError)
    assert only.host == "node03"
    assert "connection timeout" in str(only)
    assert "timed out" in str(only)
    assert only.label == "timed out"
    assert only.retryable
    assert all(connector.close_count for connector in made)


async def test_simultaneous_handshakes_are_bounded() -> None:
    cluster = cluster_of(40, connectConcurrency=7)
    gauge = ConcurrencyGauge()

    def factory(spec: ResolvedHost) -> Connector:
        return GaugedConnector(spec.name, gauge, connect_delay=0.005)

    async with await new_runtime(cluster, connector_factory=factory) as runtime:
        assert len(runtime) == 40
    assert gauge.peak == 7


async def test_an_unexpected_error_propagates_after_closing_everything() -> None:
    cluster = cluster_of(3)
    made: list[MemoryConnector] = []

    def factory(spec: ResolvedHost) -> Connector:
        error = RuntimeError("bug") if spec.name == "node02" else None
        made.append(MemoryConnector(spec.name, connect_error=error))
        return made[-1]

    with pytest.raises(RuntimeError, match="bug"):
        await new_runtime(cluster, connector_factory=factory)
    assert all(connector.close_count for connector in made)


async def test_exiting_the_runtime_closes_every_connection_once() -> None:
    cluster = cluster_of(4)
    made: list[MemoryConnector] = []

    def factory(spec: ResolvedHost) -> Connector:
        made.append(MemoryConnector(spec.name))
        return made[-1]

    runtime = await new_runtime(cluster, connector_factory=factory)
    async with runtime:
        assert all(connector.connected for connector in made)
    await runtime.close()
    assert [connector.close_count for connector in made] == [1, 1, 1, 1]


async def test_shared_data_lives_per_host_and_cluster_data_across_hosts() -> None:
    cluster = cluster_of(2)

    async with await new_runtime(
        cluster, connector_factory=lambda spec: MemoryConnector(spec.name)
    ) as runtime:
        first, second = runtime.hosts
        ctx = runtime.new_context(first, step="make-cert")
        ctx.shared_data.set("cert_path", "/etc/pki/a.crt")
        ctx.cluster_data.set("join_token", "abc")
        later = runtime.new_context(first, step="use-cert")
        assert later.shared_data.get("cert_path") == "/etc/pki/a.crt"
        other = runtime.new_context(second)
        assert "cert_path" not in other.shared_data
        assert other.cluster_data.get("join_token") == "abc"
        with pytest.raises(MissingDataError, match=r"'cert_path'.*no earlier step"):
            other.shared_data.get("cert_path")
        result = await other.runner.run("true")
        assert result.ok
        assert runtime.inventory["node02"].runner.connector is other.host.runner.connector


async def test_allow_unreachable_leaves_failed_hosts_out_and_names_them() -> None:
    cluster = cluster_of(4)
    made: list[MemoryConnector] = []
    refused = HostConnectionError("node03", "connection refused")

    def factory(spec: ResolvedHost) -> Connector:
        made.append(
            MemoryConnector(spec.name, connect_error=refused if spec.name == "node03" else None)
        )
        return made[-1]

    async with await new_runtime(
        cluster, connector_factory=factory, allow_unreachable=True
    ) as runtime:
        assert [host.name for host in runtime.hosts] == ["node01", "node02", "node04"]
        assert runtime.unreachable == {"node03": refused}
        assert "node03" not in runtime.inventory
    assert all(connector.close_count == 1 for connector in made)


async def test_allow_unreachable_still_fails_when_no_host_is_reachable() -> None:
    cluster = cluster_of(2)

    def factory(spec: ResolvedHost) -> Connector:
        return MemoryConnector(spec.name, connect_error=HostConnectionError(spec.name, "down"))

    with pytest.raises(InitializationError) as caught:
        await new_runtime(cluster, connector_factory=factory, allow_unreachable=True)
    assert caught.value.failed_hosts == ["node01", "node02"]
