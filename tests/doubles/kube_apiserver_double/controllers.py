"""The status that Kubernetes' controllers would eventually write, written by the double.

There is no scheduler, kubelet pod lifecycle or controller-manager behind this API, so a loop
plays their part on what is stored (every doubles behind one etcd computes the same result and
writes it with a compare-and-swap, so several of them agree):

- CustomResourceDefinitions become ``NamesAccepted`` and ``Established`` (their kinds are then
  served);
- a Node whose ``Ready`` condition has had no heartbeat for 40 s (the node-monitor grace period)
  turns ``Unknown``, as the node lifecycle controller does;
- DaemonSets, Deployments and StatefulSets report their pods scheduled and ready on the
  registered nodes: a pod may go to a node whose labels match its ``nodeSelector`` /
  required node affinity and whose NoSchedule/NoExecute taints it tolerates (DaemonSet pods get
  the controller's automatic tolerations); it is ready when the node's kubelet is alive (Ready
  not ``Unknown``) and, unless it uses the host network, the node is ``Ready`` (the CNI works).
"""

from __future__ import annotations

import calendar
import logging
import threading
import time
from typing import Any

from .etcd import EtcdError
from .resources import BUILTIN, Resource
from .store import Json, Store, now

HEARTBEAT_GRACE = 40.0
DAEMONSET_TOLERATIONS = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
]
log = logging.getLogger("kube-apiserver-double")


def _resource(kind: str) -> Resource:
    return next(r for r in BUILTIN if r.kind == kind)


def condition(document: Json, kind: str) -> Json | None:
    for item in document.get("status", {}).get("conditions", []) or []:
        if item.get("type") == kind:
            return dict(item)
    return None


def set_condition(document: Json, kind: str, status: str, reason: str, message: str) -> None:
    conditions = document.setdefault("status", {}).setdefault("conditions", [])
    for item in conditions:
        if item.get("type") == kind:
            if item.get("status") != status:
                item["lastTransitionTime"] = now()
            item.update(status=status, reason=reason, message=message)
            return
    conditions.append(
        {
            "type": kind,
            "status": status,
            "reason": reason,
            "message": message,
            "lastTransitionTime": now(),
        }
    )


def _seconds(stamp: str) -> float:
    try:
        return float(calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")))
    except ValueError:
        return 0.0


def kubelet_alive(node: Json) -> bool:
    ready = condition(node, "Ready")
    if ready is None or ready.get("status") == "Unknown":
        return False
    return time.time() - _seconds(str(ready.get("lastHeartbeatTime", ""))) <= HEARTBEAT_GRACE


def node_ready(node: Json) -> bool:
    ready = condition(node, "Ready")
    return kubelet_alive(node) and ready is not None and ready.get("status") == "True"


def _tolerated(taint: Json, tolerations: list[Json]) -> bool:
    for toleration in tolerations:
        if toleration.get("effect") and toleration.get("effect") != taint.get("effect"):
            continue
        if toleration.get("operator") == "Exists":
            if not toleration.get("key") or toleration.get("key") == taint.get("key"):
                return True
        elif toleration.get("key") == taint.get("key") and toleration.get("value", "") == taint.get(
            "value", ""
        ):
            return True
    return False


def _expression(labels: dict[str, str], expression: Json) -> bool:
    key, operator = expression.get("key", ""), expression.get("operator")
    values = expression.get("values") or []
    if operator == "In":
        return labels.get(key) in values
    if operator == "NotIn":
        return labels.get(key) not in values
    if operator == "Exists":
        return key in labels
    if operator == "DoesNotExist":
        return key not in labels
    return False


def fits(pod: Json, node: Json, extra_tolerations: list[Json]) -> bool:
    """Whether a pod with ``pod`` (a PodSpec) may be placed on ``node``."""
    labels = node.get("metadata", {}).get("labels") or {}
    for key, value in (pod.get("nodeSelector") or {}).items():
        if labels.get(key) != value:
            return False
    required = ((pod.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    terms = required.get("nodeSelectorTerms") or []
    if terms and not any(
        all(_expression(labels, e) for e in term.get("matchExpressions") or []) for term in terms
    ):
        return False
    tolerations = [*(pod.get("tolerations") or []), *extra_tolerations]
    for taint in node.get("spec", {}).get("taints") or []:
        if taint.get("effect") in ("NoSchedule", "NoExecute") and not _tolerated(
            taint, tolerations
        ):
            return False
    return True


def pod_ready_on(pod: Json, node: Json) -> bool:
    return kubelet_alive(node) and (bool(pod.get("hostNetwork")) or node_ready(node))


class Controllers:
    def __init__(self, store: Store, period: float = 1.0) -> None:
        self.store = store
        self.period = period
        self._stop = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._loop, name="controllers", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.period):
            try:
                self.reconcile()
            except (EtcdError, OSError, ValueError, KeyError) as error:
                log.warning("controllers: %s", error)

    def reconcile(self) -> None:
        store = self.store
        crds = _resource("CustomResourceDefinition")
        for crd in store.list_objects(crds, None, [])[0]:
            store.update_status(crds, None, crd["metadata"]["name"], _establish)
        node_resource = _resource("Node")
        nodes = store.list_objects(node_resource, None, [])[0]
        for node in nodes:
            if condition(node, "Ready") and not kubelet_alive(node):
                store.update_status(node_resource, None, node["metadata"]["name"], _unknown)
        for kind, compute in (
            ("DaemonSet", _daemonset_status),
            ("Deployment", _deployment_status),
            ("StatefulSet", _statefulset_status),
        ):
            resource = _resource(kind)
            for item in store.list_objects(resource, None, [])[0]:
                metadata = item["metadata"]

                def mutate(current: Json, compute: Any = compute) -> Json:
                    current["status"] = compute(current, nodes)
                    return current

                store.update_status(resource, metadata["namespace"], metadata["name"], mutate)


def _establish(crd: Json) -> Json:
    spec = crd.get("spec", {})
    status = crd.setdefault("status", {})
    status["acceptedNames"] = spec.get("names", {})
    status["storedVersions"] = sorted(
        {
            *(status.get("storedVersions") or []),
            *(v["name"] for v in spec.get("versions", []) if v.get("storage")),
        }
    )
    set_condition(crd, "NamesAccepted", "True", "NoConflicts", "no conflicts found")
    set_condition(
        crd, "Established", "True", "InitialNamesAccepted", "the initial names have been accepted"
    )
    return crd


def _unknown(node: Json) -> Json:
    for kind in ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure"):
        if condition(node, kind) is not None:
            set_condition(
                node, kind, "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status."
            )
    return node


def _pod_spec(workload: Json) -> Json:
    spec: Json = workload.get("spec", {}).get("template", {}).get("spec", {}) or {}
    return spec


def _daemonset_status(daemonset: Json, nodes: list[Json]) -> Json:
    pod = _pod_spec(daemonset)
    extra = list(DAEMONSET_TOLERATIONS)
    if pod.get("hostNetwork"):
        extra.append(
            {
                "key": "node.kubernetes.io/network-unavailable",
                "operator": "Exists",
                "effect": "NoSchedule",
            }
        )
    chosen = [n for n in nodes if fits(pod, n, extra)]
    ready = sum(1 for n in chosen if pod_ready_on(pod, n))
    return {
        "currentNumberScheduled": len(chosen),
        "desiredNumberScheduled": len(chosen),
        "numberMisscheduled": 0,
        "numberReady": ready,
        "numberAvailable": ready,
        **({"numberUnavailable": len(chosen) - ready} if len(chosen) > ready else {}),
        "updatedNumberScheduled": len(chosen),
        "observedGeneration": daemonset["metadata"].get("generation", 1),
    }


def _ready_replicas(workload: Json, nodes: list[Json]) -> tuple[int, int]:
    pod = _pod_spec(workload)
    replicas = int(workload.get("spec", {}).get("replicas", 1))
    usable = [n for n in nodes if fits(pod, n, []) and pod_ready_on(pod, n)]
    return replicas, replicas if usable else 0


def _deployment_status(deployment: Json, nodes: list[Json]) -> Json:
    replicas, ready = _ready_replicas(deployment, nodes)
    status: Json = {
        "observedGeneration": deployment["metadata"].get("generation", 1),
        "replicas": replicas,
        "updatedReplicas": replicas,
        "readyReplicas": ready,
        "availableReplicas": ready,
        "conditions": (deployment.get("status") or {}).get("conditions", []),
    }
    if replicas > ready:
        status["unavailableReplicas"] = replicas - ready
    for key in ("readyReplicas", "availableReplicas"):
        if not status[key]:
            del status[key]
    holder = {"status": status}
    if ready >= replicas:
        set_condition(
            holder,
            "Available",
            "True",
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.",
        )
        set_condition(
            holder,
            "Progressing",
            "True",
            "NewReplicaSetAvailable",
            "ReplicaSet has successfully progressed.",
        )
    else:
        set_condition(
            holder,
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
        )
        set_condition(
            holder, "Progressing", "True", "ReplicaSetUpdated", "ReplicaSet is progressing."
        )
    return status


def _statefulset_status(statefulset: Json, nodes: list[Json]) -> Json:
    replicas, ready = _ready_replicas(statefulset, nodes)
    revision = f"{statefulset['metadata']['name']}-{statefulset['metadata'].get('generation', 1)}"
    return {
        "observedGeneration": statefulset["metadata"].get("generation", 1),
        "replicas": replicas,
        "readyReplicas": ready,
        "availableReplicas": ready,
        "currentReplicas": replicas,
        "updatedReplicas": replicas,
        "currentRevision": revision,
        "updateRevision": revision,
    }
