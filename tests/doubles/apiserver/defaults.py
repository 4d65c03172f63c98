"""The defaults the real apiserver fills in that clients read back (kubectl's rollout status
needs a workload's update strategy, for one)."""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]


def _setdefault(document: Json, path: str, value: Any) -> None:
    parts = path.split(".")
    current = document
    for part in parts[:-1]:
        current = current.setdefault(part, {})
        if not isinstance(current, dict):
            return
    current.setdefault(parts[-1], value)


def _pod_template(spec: Json) -> None:
    pod = spec.get("template", {}).get("spec")
    if not isinstance(pod, dict):
        return
    pod.setdefault("restartPolicy", "Always")
    pod.setdefault("dnsPolicy", "ClusterFirst")
    pod.setdefault("schedulerName", "default-scheduler")
    pod.setdefault("terminationGracePeriodSeconds", 30)
    pod.setdefault("securityContext", {})
    for container in [*(pod.get("containers") or []), *(pod.get("initContainers") or [])]:
        container.setdefault("terminationMessagePath", "/dev/termination-log")
        container.setdefault("terminationMessagePolicy", "File")
        container.setdefault("resources", {})
        image = str(container.get("image", ""))
        tagged = ":" in image.rsplit("/", 1)[-1] or "@" in image
        container.setdefault(
            "imagePullPolicy",
            "IfNotPresent" if tagged and not image.endswith(":latest") else "Always",
        )


def apply_defaults(kind: str, document: Json) -> None:
    spec = document.get("spec")
    if not isinstance(spec, dict):
        return
    if kind == "DaemonSet":
        _setdefault(spec, "updateStrategy.type", "RollingUpdate")
        if spec["updateStrategy"].get("type") == "RollingUpdate":
            _setdefault(spec, "updateStrategy.rollingUpdate.maxUnavailable", 1)
            _setdefault(spec, "updateStrategy.rollingUpdate.maxSurge", 0)
        spec.setdefault("revisionHistoryLimit", 10)
        _pod_template(spec)
    elif kind == "Deployment":
        spec.setdefault("replicas", 1)
        _setdefault(spec, "strategy.type", "RollingUpdate")
        if spec["strategy"].get("type") == "RollingUpdate":
            _setdefault(spec, "strategy.rollingUpdate.maxUnavailable", "25%")
            _setdefault(spec, "strategy.rollingUpdate.maxSurge", "25%")
        spec.setdefault("revisionHistoryLimit", 10)
        spec.setdefault("progressDeadlineSeconds", 600)
        _pod_template(spec)
    elif kind == "StatefulSet":
        spec.setdefault("replicas", 1)
        _setdefault(spec, "updateStrategy.type", "RollingUpdate")
        if spec["updateStrategy"].get("type") == "RollingUpdate":
            _setdefault(spec, "updateStrategy.rollingUpdate.partition", 0)
        spec.setdefault("podManagementPolicy", "OrderedReady")
        spec.setdefault("revisionHistoryLimit", 10)
        _pod_template(spec)
    elif kind == "Service":
        spec.setdefault("type", "ClusterIP")
        spec.setdefault("sessionAffinity", "None")
        for port in spec.get("ports") or []:
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))
