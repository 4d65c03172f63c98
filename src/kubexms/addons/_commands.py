"""What the ``addons`` phase runs on the first master for one add-on: where its files go on
that host, the values document, and the helm or kubectl command lines (no secret in them)."""

from __future__ import annotations

import math
from pathlib import PurePosixPath
from urllib.parse import urlsplit

import yaml

from kubexms.cni import KubeObject, helm_upgrade_argv, kubectl_apply_argv
from kubexms.config import Addon

ADDONS_DIR = "/etc/kubexms/addons"
INLINE_VALUES = "values.yaml"


def addon_dir(addon: Addon) -> str:
    """The add-on's directory on the first master (its chart, values files, manifests)."""
    return f"{ADDONS_DIR}/{addon.name}"


def inline_values_yaml(addon: Addon) -> str | None:
    """``values`` of the cluster file as a values document (None when there are none)."""
    return yaml.safe_dump(addon.values, sort_keys=True) if addon.values else None


def chart_on_host(addon: Addon) -> str:
    """What helm installs: the archive's path on the host for a local chart, else its name."""
    if addon.chart is None:
        raise ValueError(f"addon {addon.name} is not a helm addon")
    if addon.local_chart:
        return f"{addon_dir(addon)}/{PurePosixPath(addon.chart).name}"
    return addon.chart


def values_files_on_host(addon: Addon) -> list[str]:
    """The values files in helm's order: ``valuesFiles`` as listed, then ``values`` (inline
    values win, as they are the cluster file's last word). Numbered so two files of the same
    name do not collide."""
    placed = [
        f"{addon_dir(addon)}/values-{index}-{path.name}"
        for index, path in enumerate(addon.values_files)
    ]
    if addon.values:
        placed.append(f"{addon_dir(addon)}/{INLINE_VALUES}")
    return placed


def helm_argv(addon: Addon) -> list[str]:
    """``helm upgrade --install --wait --timeout`` of a ``helm`` add-on."""
    return helm_upgrade_argv(
        addon.name,
        chart_on_host(addon),
        namespace=addon.namespace,
        values_files=values_files_on_host(addon),
        version=addon.version,
        repo=addon.repo,
        timeout_seconds=math.ceil(addon.timeout),
    )


def manifests_on_host(addon: Addon) -> list[str]:
    """Where each manifest of a ``manifest`` add-on is placed, in the cluster file's order."""
    placed = []
    for index, source in enumerate(addon.manifests):
        if source.path is not None:
            name = source.path.name
        elif source.url is not None:
            name = PurePosixPath(urlsplit(source.url).path).name or "manifest.yaml"
        else:
            raise ValueError(f"addon {addon.name}: manifest {index} has neither path nor url")
        placed.append(f"{addon_dir(addon)}/{index:02d}-{name}")
    return placed


def manifest_argvs(addon: Addon) -> list[list[str]]:
    """One server-side ``kubectl apply`` per manifest, in order. No ``--namespace``: kubectl
    would refuse every object naming another namespace; objects naming none get the add-on's
    namespace in the manifest itself (:func:`in_namespace`)."""
    return [kubectl_apply_argv(path) for path in manifests_on_host(addon)]


CLUSTER_SCOPED_KINDS = frozenset(
    {
        "APIService",
        "CertificateSigningRequest",
        "ClusterRole",
        "ClusterRoleBinding",
        "CSIDriver",
        "CSINode",
        "CustomResourceDefinition",
        "FlowSchema",
        "IngressClass",
        "MutatingWebhookConfiguration",
        "Namespace",
        "Node",
        "PersistentVolume",
        "PriorityClass",
        "PriorityLevelConfiguration",
        "RuntimeClass",
        "StorageClass",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration",
        "VolumeAttachment",
    }
)
"""Built-in kinds that live in no namespace."""


def in_namespace(objects: list[KubeObject], namespace: str) -> list[KubeObject]:
    """``objects`` with ``namespace`` set where an object of a namespaced kind names none (the
    add-on's namespace is the default, as ``kubectl --namespace`` would make it)."""
    placed = []
    for obj in objects:
        metadata = obj.get("metadata") or {}
        if obj.get("kind") in CLUSTER_SCOPED_KINDS or metadata.get("namespace"):
            placed.append(obj)
        else:
            placed.append({**obj, "metadata": {**metadata, "namespace": namespace}})
    return placed
