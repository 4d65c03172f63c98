"""A wait that timed out says which nodes are not Ready (conditions) and which pods fail (state,
last event), from kubectl's JSON."""

from __future__ import annotations

from typing import Any

from kubexms.cni._diagnostics import (
    FailingPod,
    NodeNotReady,
    failing_pods,
    nodes_not_ready,
    not_ready_report,
)

NOT_READY = (
    "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady "
    "message:Network plugin returns error: cni plugin not initialized"
)


def node(name: str, ready: str, **extra: str) -> dict[str, Any]:
    conditions = [
        {
            "type": "MemoryPressure",
            "status": extra.get("memory", "False"),
            "reason": "KubeletHasSufficientMemory",
        },
        {"type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure"},
        {
            "type": "Ready",
            "status": ready,
            "reason": "KubeletReady" if ready == "True" else "KubeletNotReady",
            "message": "kubelet is posting ready status" if ready == "True" else NOT_READY,
        },
    ]
    return {"kind": "Node", "metadata": {"name": name}, "status": {"conditions": conditions}}


def test_only_nodes_not_ready_are_listed_with_why() -> None:
    nodes = {
        "kind": "List",
        "items": [
            node("master1", "True"),
            node("worker1", "False", memory="True"),
            node("worker2", "Unknown"),
        ],
    }
    found = nodes_not_ready(nodes)
    assert [n.name for n in found] == ["worker1", "worker2"]
    assert found[0].conditions == (
        "MemoryPressure=True (KubeletHasSufficientMemory)",
        "Ready=False (KubeletNotReady): container runtime network not ready: NetworkReady=false "
        "reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not "
        "initialized",
    )
    assert found[1].conditions[0].startswith("Ready=Unknown")


def test_a_node_without_conditions_is_not_ready() -> None:
    found = nodes_not_ready({"items": [{"metadata": {"name": "new"}, "status": {}}]})
    assert found == [NodeNotReady("new", ("no Ready condition",))]


def pod(name: str, node_name: str, ready: bool, waiting: str | None = None) -> dict[str, Any]:
    statuses = []
    if waiting:
        statuses.append({"name": "calico-node", "state": {"waiting": {"reason": waiting}}})
    return {
        "metadata": {"name": name, "namespace": "kube-system"},
        "spec": {"nodeName": node_name},
        "status": {
            "phase": "Running" if ready else "Pending",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": statuses,
        },
    }


def event(pod_name: str, when: str, reason: str, message: str) -> dict[str, Any]:
    return {
        "involvedObject": {"kind": "Pod", "name": pod_name},
        "lastTimestamp": when,
        "reason": reason,
        "message": message,
    }


def test_failing_pods_carry_their_newest_event() -> None:
    pods = {
        "items": [
            pod("calico-node-a", "master1", True),
            pod("calico-node-b", "worker1", False, "ImagePullBackOff"),
        ]
    }
    events = {
        "items": [
            event("calico-node-b", "2026-12-01T12:00:05Z", "BackOff", "Back-off pulling image"),
            event("calico-node-b", "2026-12-01T12:00:01Z", "Pulling", "Pulling image"),
            event("calico-node-a", "2026-12-01T12:00:09Z", "Started", "Started container"),
            {
                "involvedObject": {"kind": "DaemonSet", "name": "calico-node"},
                "reason": "SuccessfulCreate",
            },
        ]
    }
    assert failing_pods(pods, events) == [
        FailingPod(
            "calico-node-b",
            "worker1",
            "Pending (calico-node ImagePullBackOff)",
            "BackOff: Back-off pulling image",
        )
    ]


def test_the_report_lists_nodes_then_pods() -> None:
    report = not_ready_report(
        [NodeNotReady("worker1", ("Ready=False (KubeletNotReady)",))],
        [FailingPod("calico-node-b", "worker1", "Pending", None)],
    )
    assert report.splitlines() == [
        "node worker1 not Ready: Ready=False (KubeletNotReady)",
        "pod calico-node-b on worker1: Pending",
    ]
