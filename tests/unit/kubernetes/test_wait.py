"""The control-plane waits, run for real: the Steps' scripts on this machine (local connector)
with the real kubectl against the API-server double on a real etcd."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from kubexms.connector import LocalConnector
from kubexms.kubernetes import ControlPlaneNotReadyError, WaitForApiServer, WaitForNodes
from kubexms.runtime import ClusterRuntime, new_runtime
from kubexms.testing import cluster_of
from tests.doubles.local_api import LocalApi, free_port, local_api


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalApi]:
    with local_api(tmp_path_factory.mktemp("wait")) as started:
        yield started


@pytest_asyncio.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[ClusterRuntime]:
    """node1 (the first master) and node2, both this machine through the local connector."""
    cluster = cluster_of(2, work_dir=tmp_path / "work")
    started = await new_runtime(cluster, connector_factory=lambda spec: LocalConnector(spec.name))
    try:
        yield started
    finally:
        await started.close()


def api_wait(api: LocalApi, timeout: int, **extra: object) -> WaitForApiServer:
    return WaitForApiServer(
        kubeconfig=str(api.kubeconfig()),
        kubectl=str(api.kubectl_path),
        timeout_seconds=timeout,
        **extra,  # type: ignore[arg-type]
    )


async def test_api_ready_through_the_endpoint(api: LocalApi, runtime: ClusterRuntime) -> None:
    step = api_wait(api, 10)
    ctx = runtime.new_context(runtime.host("node1"))
    assert await step.precheck(ctx) is True  # nothing to wait for: the run is skipped
    change = await step.run(ctx)
    assert change.detail == "/readyz ok through the endpoint"
    assert not change.changed  # ready at the first look: waiting changed nothing


async def test_api_timeout_says_why_and_shows_the_journal(
    api: LocalApi, runtime: ClusterRuntime, tmp_path: Path
) -> None:
    nowhere = api.kubeconfig()
    nowhere.write_text(nowhere.read_text().replace(f":{api.ports[0]}", f":{free_port()}"))
    step = WaitForApiServer(
        kubeconfig=str(nowhere),
        kubectl=str(api.kubectl_path),
        timeout_seconds=3,
        journal_units=("kubexms-no-such-unit",),
    )
    ctx = runtime.new_context(runtime.host("node1"))
    precheck = await step.precheck(ctx)
    assert not isinstance(precheck, bool)
    assert precheck.detail == "would wait up to 3s"
    with pytest.raises(ControlPlaneNotReadyError) as caught:
        await step.run(ctx)
    message = str(caught.value)
    assert "not ready through the control-plane endpoint after 3s" in message
    assert "127.0.0.1:" in message
    assert "was refused" in message  # kubectl's own words
    assert "last journal lines on node1:" in message
    assert "-- kubexms-no-such-unit --" in message


async def test_api_not_ready_names_the_failing_checks(
    runtime: ClusterRuntime, tmp_path: Path
) -> None:
    with local_api(tmp_path) as own:
        own.etcd_process.send_signal(signal.SIGSTOP)
        try:
            with pytest.raises(ControlPlaneNotReadyError) as caught:
                await api_wait(own, 3, journal_units=()).run(
                    runtime.new_context(runtime.host("node1"))
                )
        finally:
            own.etcd_process.send_signal(signal.SIGCONT)
    assert "[-]etcd failed" in str(caught.value)


async def test_nodes_registered_or_named_with_their_journal(
    api: LocalApi, runtime: ClusterRuntime
) -> None:
    step = WaitForNodes(
        nodes=("wait-a", "wait-b"),
        kubeconfig=str(api.kubeconfig()),
        kubectl=str(api.kubectl_path),
        timeout_seconds=3,
        journal_units=("kubexms-no-such-kubelet",),
    )
    api.register_node("wait-a", "False")  # registered, not Ready (no CNI): that is enough
    ctx = runtime.new_context(runtime.host("node1"))
    precheck = await step.precheck(ctx)
    assert not isinstance(precheck, bool)
    assert precheck.detail == "would wait for wait-b"
    with pytest.raises(ControlPlaneNotReadyError) as caught:
        await step.run(ctx)
    message = str(caught.value)
    assert "nodes not registered with the API server after 3s: not registered: wait-b" in message
    assert "last journal lines on wait-b:" in message  # not a host of this cluster: said so
    api.register_node("wait-b", "True")
    assert await step.precheck(ctx) is True
    done = await step.run(ctx)
    assert (done.detail, done.changed) == ("2 node(s)", False)  # registered at the first look

    later = WaitForNodes(
        nodes=("wait-a", "wait-c"),
        kubeconfig=str(api.kubeconfig()),
        kubectl=str(api.kubectl_path),
        timeout_seconds=30,
    )
    waiting = asyncio.create_task(later.run(ctx))
    await asyncio.sleep(1.0)
    api.register_node("wait-c", "True")
    assert (await waiting).changed  # it had to wait for wait-c


def test_steps_carry_no_secret_and_name_the_endpoint_file() -> None:
    step = WaitForNodes(nodes=("m1", "w1"))
    assert step.params() == {
        "nodes": ["m1", "w1"],
        "kubeconfig": "/etc/kubernetes/admin.conf",
        "kubectl": "/usr/local/bin/kubectl",
        "timeout_seconds": 300,
        "journal_units": ["kubelet"],
    }
    assert WaitForApiServer().timeout == 360.0
