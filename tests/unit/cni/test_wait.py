"""The pod network's wait as the first master's kubectl answers it: ready at once (a rerun
waits for nothing), or a timeout that names the nodes not Ready and the failing pods with their
newest event. kubectl's answers come from a memory host (the fleet test runs the real one)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kubexms.cni import NetworkNotReadyError, NetworkReady
from kubexms.cni import _wait as wait_module
from kubexms.testing import cluster_of, memory_runtime
from tests.unit.cni.test_diagnostics import node

DAEMONSET = ("kube-system", "calico-node", "k8s-app=calico-node")
ROLLED_OUT = {
    "metadata": {"generation": 1},
    "status": {
        "observedGeneration": 1,
        "desiredNumberScheduled": 2,
        "updatedNumberScheduled": 2,
        "numberAvailable": 2,
    },
}
PODS = {
    "items": [
        {
            "metadata": {"name": "calico-node-x1"},
            "spec": {"nodeName": "node2"},
            "status": {
                "phase": "Pending",
                "containerStatuses": [
                    {"name": "calico-node", "state": {"waiting": {"reason": "ImagePullBackOff"}}}
                ],
            },
        }
    ]
}
EVENTS = {
    "items": [
        {
            "involvedObject": {"kind": "Pod", "name": "calico-node-x1"},
            "lastTimestamp": "2026-12-01T10:00:00Z",
            "reason": "Failed",
            "message": "Failed to pull image reg/calico/node:v3.29.7: not found",
        }
    ]
}


def kubectl_host(ready: bool, calls: list[str]) -> Any:
    def answer(host: str, command: str, stdin: bytes) -> tuple[int, str]:
        calls.append(command)
        assert command.startswith("/usr/local/bin/kubectl --kubeconfig=/etc/kubernetes/admin.conf")
        if " rollout status " in command:
            return (0, "rolled out") if ready else (1, "")
        if "get daemonset/calico-node" in command:
            return 0, json.dumps(ROLLED_OUT)
        if "get nodes" in command:
            second = "True" if ready else "False"
            return 0, json.dumps({"items": [node("node1", "True"), node("node2", second)]})
        if "get pods --selector=k8s-app=calico-node" in command:
            return 0, json.dumps(PODS)
        if "get events" in command:
            return 0, json.dumps(EVENTS)
        return 1, ""

    return answer


async def test_a_ready_network_is_unchanged_at_once() -> None:
    calls: list[str] = []
    runtime = await memory_runtime(cluster_of(2), kubectl_host(True, calls))
    ctx = runtime.new_context(runtime.hosts[0])
    change = await NetworkReady("calico", (DAEMONSET,), 30).precheck(ctx)
    assert not change.changed
    assert not any("rollout" in call for call in calls)


async def test_ready_at_the_runs_first_look_is_no_change() -> None:
    # The precheck's look missed (one kubectl timeout on a loaded host); by the run it is all
    # Ready: waiting for nothing changes nothing, so a rerun still reports no change.
    calls: list[str] = []
    runtime = await memory_runtime(cluster_of(2), kubectl_host(True, calls))
    ctx = runtime.new_context(runtime.hosts[0])
    change = await NetworkReady("calico", (DAEMONSET,), 30).run(ctx)
    assert not change.changed
    assert change.detail == "every node Ready"
    assert not any("rollout" in call for call in calls)


async def test_a_timeout_names_the_nodes_and_pods_that_are_not_ready(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(wait_module, "POLL_SECONDS", 0.01)
    calls: list[str] = []
    runtime = await memory_runtime(cluster_of(2), kubectl_host(False, calls))
    ctx = runtime.new_context(runtime.hosts[0])
    step = NetworkReady("calico", (DAEMONSET,), 1)
    pending = await step.precheck(ctx)
    assert pending.changed
    assert pending.detail == "would wait for node node2"
    with pytest.raises(NetworkNotReadyError) as error:
        await step.run(ctx)
    message = str(error.value)
    assert (
        "calico not ready after 1s: daemonset kube-system/calico-node did not roll out" in message
    )
    assert "node node2 not Ready: Ready=False (KubeletNotReady)" in message
    assert "node1" not in message.split("roll out", 1)[1]
    assert (
        "pod calico-node-x1 on node2: Pending (calico-node ImagePullBackOff); last event "
        "Failed: Failed to pull image reg/calico/node:v3.29.7: not found"
    ) in message
    rollout = [call for call in calls if " rollout status " in call]
    assert rollout == [
        "/usr/local/bin/kubectl --kubeconfig=/etc/kubernetes/admin.conf "
        "--namespace=kube-system rollout status daemonset/calico-node --timeout=1s"
    ]
