"""The kubelet's Node: registered with its labels and taints, its status posted every
``nodeStatusUpdateFrequency`` (tests/doubles/README.md, the kubelet's side of the contract):
``Ready=False`` ("cni plugin not initialized") until a CNI configuration exists in
/etc/cni/net.d, which it writes as the CNI DaemonSet's install-cni would on this node
(``doubles_core.cni``) once that DaemonSet exists and may run here."""

from __future__ import annotations

import datetime as dt
import platform
import sys
import threading
from typing import Any

from ._core import ApiError, Client, cni

NOT_READY = (
    "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady "
    "message:Network plugin returns error: cni plugin not initialized"
)


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _arch() -> str:
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


def taints_of(flag: str) -> list[dict[str, str]]:
    """``--register-with-taints`` (``key=value:Effect,key:Effect``) as Node taints."""
    taints = []
    for item in filter(None, flag.split(",")):
        pair, _, effect = item.rpartition(":")
        key, has_value, value = pair.partition("=")
        taint = {"key": key, "effect": effect}
        if has_value:
            taint["value"] = value
        taints.append(taint)
    return taints


class NodeAgent:
    """Registers the Node and keeps its status fresh (see the module docstring)."""

    def __init__(
        self,
        client: Client,
        name: str,
        flags: dict[str, str],
        config: dict[str, Any],
        version: str,
        every: float,
    ) -> None:
        self.client, self.name, self.flags, self.config = client, name, flags, config
        self.version, self.every = version, every
        self.registered = False
        self.transition = _now()
        self.ready: bool | None = None

    def node(self) -> dict[str, Any]:
        labels = {
            "kubernetes.io/hostname": self.name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": _arch(),
            "beta.kubernetes.io/os": "linux",
            "beta.kubernetes.io/arch": _arch(),
        }
        for item in filter(None, self.flags.get("node-labels", "").split(",")):
            key, _, value = item.partition("=")
            labels[key] = value
        node: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": self.name, "labels": labels},
        }
        taints = list(self.config.get("registerWithTaints") or [])
        taints += taints_of(self.flags.get("register-with-taints", ""))
        if taints:
            node["spec"] = {"taints": taints}
        return node

    def register(self) -> None:
        try:
            self.client.request("POST", "/api/v1/nodes", self.node())
            print(f"kubelet: Successfully registered node {self.name}", flush=True)
        except ApiError as error:
            if error.status != 409:
                raise
        self.registered = True

    def heartbeat(self) -> None:
        ready = cni.configured()
        if ready != self.ready:
            self.ready, self.transition = ready, _now()
        reason, message = (
            ("KubeletReady", "kubelet is posting ready status")
            if ready
            else ("KubeletNotReady", NOT_READY)
        )
        addresses = [{"type": "Hostname", "address": self.name}]
        if self.flags.get("node-ip"):
            addresses.insert(0, {"type": "InternalIP", "address": self.flags["node-ip"]})
        condition = {
            "type": "Ready",
            "status": "True" if ready else "False",
            "reason": reason,
            "message": message,
            "lastHeartbeatTime": _now(),
            "lastTransitionTime": self.transition,
        }
        status = {
            "status": {
                "conditions": [condition],
                "addresses": addresses,
                "nodeInfo": {
                    "kubeletVersion": self.version,
                    "operatingSystem": "linux",
                    "architecture": _arch(),
                    "containerRuntimeVersion": "containerd://1.6.20",
                },
            }
        }
        self.client.request_patch(f"/api/v1/nodes/{self.name}/status", status)

    def loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                if not self.registered:
                    self.register()
                cni.install_cni(self.client, self.name)
                self.heartbeat()
            except ApiError as error:
                print(f"kubelet: node status: {error}", file=sys.stderr, flush=True)
            stop.wait(self.every)
