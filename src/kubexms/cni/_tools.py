"""The command lines of kubectl and helm on the first master (no secret in them: the admin
kubeconfig is a file on that host, named by path)."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

ADMIN_KUBECONFIG = "/etc/kubernetes/admin.conf"
BIN_DIR = "/usr/local/bin"
KUBECTL = f"{BIN_DIR}/kubectl"
HELM = f"{BIN_DIR}/helm"
FIELD_MANAGER = "kubexms"
"""Who owns the fields kubexms applies (server-side apply), so a rerun applies idempotently."""

_RELEASE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def kubectl_apply_argv(
    manifest: str, *, namespace: str | None = None, kubeconfig: str = ADMIN_KUBECONFIG
) -> list[str]:
    """``kubectl apply`` of the manifest file at ``manifest``, server-side, taking over fields
    an earlier client-side apply owned (``--force-conflicts``: kubexms's copy is the truth);
    objects that name no namespace go to ``namespace`` when given."""
    _require_absolute(manifest, "manifest")
    return [
        KUBECTL,
        f"--kubeconfig={kubeconfig}",
        *([f"--namespace={namespace}"] if namespace is not None else []),
        "apply",
        "--server-side",
        f"--field-manager={FIELD_MANAGER}",
        "--force-conflicts",
        "-f",
        manifest,
    ]


def helm_upgrade_argv(
    release: str,
    chart: str,
    *,
    namespace: str,
    values_files: list[str],
    version: str | None = None,
    repo: str | None = None,
    timeout_seconds: int = 600,
    kubeconfig: str = ADMIN_KUBECONFIG,
    description: str | None = None,
) -> list[str]:
    """``helm upgrade --install --wait`` of ``chart`` (a local ``.tgz`` path, or a chart name in
    ``repo``) as ``release``, with ``values_files`` applied in order (later ones win);
    ``description`` is kept with the release (what a rerun compares)."""
    if len(release) > 53 or not _RELEASE.fullmatch(release):
        raise ValueError(f"{release!r} is not a Helm release name (DNS label, at most 53)")
    if repo is None:
        _require_absolute(chart, "chart")
    if timeout_seconds <= 0:
        raise ValueError("timeout_seconds must be positive")
    argv = [
        HELM,
        "upgrade",
        "--install",
        release,
        chart,
        f"--kubeconfig={kubeconfig}",
        f"--namespace={namespace}",
        "--create-namespace",
        "--wait",
        f"--timeout={timeout_seconds}s",
    ]
    if repo is not None:
        argv.append(f"--repo={repo}")
    if version is not None:
        argv.append(f"--version={version}")
    for path in values_files:
        _require_absolute(path, "values file")
        argv.append(f"--values={path}")
    if description is not None:
        argv.append(f"--description={description}")
    return argv


def helm_status_argv(
    release: str, *, namespace: str, kubeconfig: str = ADMIN_KUBECONFIG
) -> list[str]:
    """``helm status -o json`` of ``release``: its state and description (exit 1: none)."""
    return [
        HELM,
        "status",
        release,
        f"--kubeconfig={kubeconfig}",
        f"--namespace={namespace}",
        "--output=json",
    ]


def kubectl_get_file_argv(
    manifest: str, *, namespace: str | None = None, kubeconfig: str = ADMIN_KUBECONFIG
) -> list[str]:
    """``kubectl get -f`` of the objects of the manifest file at ``manifest``, as JSON; the
    ones the server does not have are left out (not an error)."""
    _require_absolute(manifest, "manifest")
    return [
        KUBECTL,
        f"--kubeconfig={kubeconfig}",
        *([f"--namespace={namespace}"] if namespace is not None else []),
        "get",
        "--ignore-not-found",
        "--output=json",
        "-f",
        manifest,
    ]


def _require_absolute(path: str, what: str) -> None:
    if not PurePosixPath(path).is_absolute():
        raise ValueError(f"the {what} must be an absolute path on the host, not {path!r}")


def kubectl_rollout_status_argv(
    namespace: str, daemonset: str, *, timeout_seconds: int, kubeconfig: str = ADMIN_KUBECONFIG
) -> list[str]:
    """Wait until every pod of ``daemonset`` runs its current template (kubectl exits non-zero
    at the timeout)."""
    if timeout_seconds <= 0:
        raise ValueError("timeout_seconds must be positive")
    return [
        KUBECTL,
        f"--kubeconfig={kubeconfig}",
        f"--namespace={namespace}",
        "rollout",
        "status",
        f"daemonset/{daemonset}",
        f"--timeout={timeout_seconds}s",
    ]


def kubectl_get_json_argv(
    resource: str,
    *,
    namespace: str | None = None,
    selector: str | None = None,
    kubeconfig: str = ADMIN_KUBECONFIG,
) -> list[str]:
    """``kubectl get <resource> -o json`` (nodes; a DaemonSet's pods by ``selector``; events),
    what the not-Ready report is made from."""
    return [
        KUBECTL,
        f"--kubeconfig={kubeconfig}",
        *([f"--namespace={namespace}"] if namespace is not None else []),
        "get",
        resource,
        *([f"--selector={selector}"] if selector is not None else []),
        "--output=json",
    ]
