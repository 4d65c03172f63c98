"""What the CNI DaemonSet's ``install-cni`` init container does on a node, done by the kubelet
double (no pods run in the doubles' world, so nothing else would).

In a real cluster the plugin's DaemonSet (calico-node, kube-flannel-ds) gets a pod on every node
it may run on, and that pod's ``install-cni`` init container writes the plugin's CNI
configuration into /etc/cni/net.d from the plugin's ConfigMap; the kubelet then reports the node
``Ready``. The kubelet double does the same, and only then: once the DaemonSet exists in the API
and its pod template's ``nodeSelector`` matches the node's labels, it reads the ConfigMap key
the init container reads, replaces the ``__NAME__`` placeholders with the init container's
environment (literal values, ``configMapKeyRef``, ``fieldRef: spec.nodeName``) as calico's
``install`` does, refuses what is not JSON (the real one fails too), and writes the file
atomically under the name the init container gives it. Nothing else (no kubeconfig for the
plugin, no binaries in /opt/cni/bin: the container-runtime phase places those).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from .api import ApiError, Client
from .files import host, write

CNI_DIR = "/etc/cni/net.d"


@dataclass(frozen=True)
class CniDaemonSet:
    """A plugin's DaemonSet and the ConfigMap key its install-cni container writes out."""

    namespace: str
    daemonset: str
    configmap: str
    key: str
    file: str  # the name the init container writes, unless its CNI_CONF_NAME says another


PLUGINS = (
    CniDaemonSet("kube-system", "calico-node", "calico-config", "cni_network_config",
                 "10-calico.conflist"),
    CniDaemonSet("kube-flannel", "kube-flannel-ds", "kube-flannel-cfg", "cni-conf.json",
                 "10-flannel.conflist"),
)  # fmt: skip
CALICO_KUBECONFIG = "/etc/cni/net.d/calico-kubeconfig"
"""Where calico's install-cni puts its kubeconfig (``__KUBECONFIG_FILEPATH__``)."""


def _get(client: Client, path: str) -> Any:
    """The object, or None when it does not exist or is not this node's to see (the Node
    authorizer refuses what no pod on the node refers to: 403)."""
    try:
        return client.get(path)
    except ApiError as error:
        if error.status in (403, 404):
            return None
        raise


def _environment(container: dict[str, Any], data: dict[str, str], node: str) -> dict[str, str]:
    found = {"KUBECONFIG_FILEPATH": CALICO_KUBECONFIG}
    for item in container.get("env") or []:
        source = item.get("valueFrom") or {}
        if "value" in item:
            found[item["name"]] = str(item["value"])
        elif "configMapKeyRef" in source and source["configMapKeyRef"].get("key") in data:
            found[item["name"]] = data[source["configMapKeyRef"]["key"]]
        elif (source.get("fieldRef") or {}).get("fieldPath") == "spec.nodeName":
            found[item["name"]] = node
    return found


def _filled(template: str, environment: dict[str, str]) -> str:
    """``__NAME__`` replaced by the variable NAME where the environment has it."""
    return re.sub(
        r"__([A-Z0-9_]+)__",
        lambda match: environment.get(match.group(1), match.group(0)),
        template,
    )


def _install_container(daemonset: dict[str, Any]) -> dict[str, Any]:
    pod = daemonset.get("spec", {}).get("template", {}).get("spec", {})
    for container in pod.get("initContainers") or []:
        if container.get("name") == "install-cni":
            return dict(container)
    return {}


def _schedulable(daemonset: dict[str, Any], labels: dict[str, str]) -> bool:
    pod = daemonset.get("spec", {}).get("template", {}).get("spec", {})
    selector = pod.get("nodeSelector") or {}
    return all(labels.get(key) == value for key, value in selector.items())


def configured() -> bool:
    """A CNI configuration exists on this node (what the real kubelet's network check sees)."""
    directory = host(CNI_DIR)
    return directory.is_dir() and any(
        p.suffix in (".conf", ".conflist", ".json") for p in directory.iterdir()
    )


def install_cni(client: Client, node: str) -> str | None:
    """The configuration file written for the first plugin whose DaemonSet runs on ``node``
    (None: no such DaemonSet yet, or a configuration is already there)."""
    if configured():
        return None
    found = _get(client, f"/api/v1/nodes/{node}")
    labels = dict((found or {}).get("metadata", {}).get("labels") or {})
    for plugin in PLUGINS:
        daemonset = _get(
            client, f"/apis/apps/v1/namespaces/{plugin.namespace}/daemonsets/{plugin.daemonset}"
        )
        if daemonset is None or not _schedulable(daemonset, labels):
            continue
        configmap = _get(
            client, f"/api/v1/namespaces/{plugin.namespace}/configmaps/{plugin.configmap}"
        )
        data = dict((configmap or {}).get("data") or {})
        if plugin.key not in data:
            print(f"kubelet: pod {plugin.namespace}/{plugin.daemonset} on {node}: configmap "
                  f'"{plugin.configmap}" has no key "{plugin.key}"', flush=True)  # fmt: skip
            continue
        environment = _environment(_install_container(daemonset), data, node)
        text = _filled(data[plugin.key], environment)
        try:
            json.loads(text)
        except ValueError as error:
            print(f"kubelet: install-cni on {node}: the CNI configuration of "
                  f"{plugin.configmap} is not JSON: {error}", flush=True)  # fmt: skip
            continue
        name = environment.get("CNI_CONF_NAME", plugin.file)
        write(f"{CNI_DIR}/{name}", text.encode(), 0o644)
        print(f"kubelet: install-cni of {plugin.namespace}/{plugin.daemonset} wrote "
              f"{CNI_DIR}/{name} (kubexms test double)", flush=True)  # fmt: skip
        return f"{CNI_DIR}/{name}"
    return None
