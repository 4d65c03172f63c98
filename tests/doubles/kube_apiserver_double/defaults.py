"""The defaults the real apiserver fills in that clients read back (kubectl's rollout status
needs a workload's update strategy, for one)."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from .errors import ApiError, invalid
from .etcd import EtcdClient

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


def allocate_cluster_ip(etcd: EtcdClient, service_range: str, document: Json) -> None:
    spec = document.setdefault("spec", {})
    if spec.get("clusterIP") == "None" or spec.get("type") == "ExternalName":
        return
    network = ipaddress.ip_network(service_range.split(",")[0] or "10.96.0.0/12")
    wanted = spec.get("clusterIP")
    if wanted:
        if ipaddress.ip_address(wanted) not in network:
            raise invalid(
                "Service",
                document["metadata"]["name"],
                [
                    f'spec.clusterIPs: Invalid value: "{wanted}": provided IP is not in the '
                    f"valid range. The range of valid IPs is {network}"
                ],
            )
        spec["clusterIPs"] = [wanted]
        return
    items, _ = etcd.list_prefix("/registry/services/")
    taken = {json.loads(kv.value).get("spec", {}).get("clusterIP") for kv in items}
    for address in network.hosts():
        if str(address) not in taken and address != network[1]:
            spec["clusterIP"] = str(address)
            spec["clusterIPs"] = [str(address)]
            return
    raise ApiError(500, "InternalError", "no ClusterIP left in the service range")
