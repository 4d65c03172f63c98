"""Why the pod network is not up: nodes not Ready (their conditions) and the plugin's failing
pods with their last events, read from ``kubectl get ... -o json`` output."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class NodeNotReady:
    """A node whose ``Ready`` condition is not ``True``, with its conditions that say why."""

    name: str
    conditions: tuple[str, ...]


@dataclass(frozen=True)
class FailingPod:
    """A pod that is not Ready: its phase, container states, and its last event."""

    name: str
    node: str
    state: str
    last_event: str | None


def nodes_not_ready(nodes: Mapping[str, Any]) -> list[NodeNotReady]:
    """The nodes of a ``kubectl get nodes -o json`` list that are not Ready."""
    found = []
    for node in nodes.get("items") or []:
        conditions = (node.get("status") or {}).get("conditions") or []
        ready = [c for c in conditions if c.get("type") == "Ready"]
        if ready and ready[0].get("status") == "True":
            continue
        described = tuple(
            _condition(c)
            for c in conditions
            # Ready, and the pressure conditions only when they are on
            if c.get("type") == "Ready" or c.get("status") == "True"
        )
        found.append(NodeNotReady(node["metadata"]["name"], described or ("no Ready condition",)))
    return found


def _condition(condition: Mapping[str, Any]) -> str:
    text = f"{condition.get('type')}={condition.get('status')}"
    reason, message = condition.get("reason"), condition.get("message")
    if reason:
        text += f" ({reason})"
    if message:
        text += f": {message}"
    return text


def failing_pods(pods: Mapping[str, Any], events: Mapping[str, Any]) -> list[FailingPod]:
    """The pods of ``kubectl get pods -o json`` that are not Ready, each with the newest event
    of ``kubectl get events -o json`` about it."""
    newest: dict[str, tuple[str, str]] = {}
    for event in events.get("items") or []:
        involved = event.get("involvedObject") or {}
        if involved.get("kind") != "Pod":
            continue
        when = str(event.get("lastTimestamp") or event.get("eventTime") or "")
        name = str(involved.get("name"))
        text = f"{event.get('reason')}: {event.get('message', '').strip()}"
        if name not in newest or when >= newest[name][0]:
            newest[name] = (when, text)
    found = []
    for pod in pods.get("items") or []:
        status = pod.get("status") or {}
        conditions = status.get("conditions") or []
        if any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions):
            continue
        name = pod["metadata"]["name"]
        event = newest.get(name)
        found.append(
            FailingPod(
                name,
                str((pod.get("spec") or {}).get("nodeName") or "unscheduled"),
                _pod_state(status),
                event[1] if event else None,
            )
        )
    return found


def _pod_state(status: Mapping[str, Any]) -> str:
    states = []
    for container in list(status.get("initContainerStatuses") or []) + list(
        status.get("containerStatuses") or []
    ):
        state = container.get("state") or {}
        for kind in ("waiting", "terminated"):
            if kind in state:
                detail = state[kind] or {}
                reason = detail.get("reason") or kind
                states.append(f"{container.get('name')} {reason}")
    phase = str(status.get("phase") or "Unknown")
    return f"{phase} ({', '.join(states)})" if states else phase


def not_ready_report(nodes: Sequence[NodeNotReady], pods: Sequence[FailingPod]) -> str:
    """The message of a wait that timed out: every node not Ready and every failing pod."""
    lines = [f"node {node.name} not Ready: {'; '.join(node.conditions)}" for node in nodes]
    for pod in pods:
        line = f"pod {pod.name} on {pod.node}: {pod.state}"
        lines.append(f"{line}; last event {pod.last_event}" if pod.last_event else line)
    return "\n".join(lines) if lines else "every node is Ready and every pod is Ready"
