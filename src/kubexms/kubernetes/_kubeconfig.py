"""The user's kubeconfig: the cluster admin's credentials from the cluster PKI, pointed at the
control-plane endpoint, written to ``<workDir>/kubeconfig`` (0600) once the API answers, and
merged on request into the user's own kubeconfig as one more context.

Names: cluster, context = ``metadata.name``; user = ``<metadata.name>-admin``. An entry of
the same name in the user's file is ours when its cluster's CA is this cluster's CA (the PKI is
the cluster's identity, a name is not): only then is it replaced.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import os
import tempfile
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import yaml

from kubexms._errors import KubexmsError
from kubexms.config import Cluster
from kubexms.engine import Step
from kubexms.pki import control_plane_url, default_pki_directory, parse_kubeconfig
from kubexms.runner import Change
from kubexms.runtime import Context

KUBECONFIG_FILE = "kubeconfig"
ADMIN_SOURCE = Path("kubeconfig") / "admin.conf"


class KubeconfigError(KubexmsError):
    """The user's kubeconfig cannot be made or merged (the message says why and what to do)."""

    label = "kubeconfig"


def user_kubeconfig_path(cluster: Cluster) -> Path:
    """``<workDir>/kubeconfig``."""
    return cluster.work_dir / KUBECONFIG_FILE


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def user_kubeconfig(cluster: Cluster, pki_dir: Path | None = None) -> dict[str, Any]:
    """The admin kubeconfig for the user, built from ``<pki>/kubeconfig/admin.conf`` (its CA and
    client certificate) with the endpoint as server and the cluster's name on every entry."""
    source = (pki_dir or default_pki_directory(cluster)) / ADMIN_SOURCE
    try:
        contents = parse_kubeconfig(source.read_bytes())
    except FileNotFoundError:
        raise KubeconfigError(
            f"the cluster PKI has no admin kubeconfig ({source}); make the PKI first "
            f"(kubexms certs generate -f FILE, or kubexms create cluster -f FILE)"
        ) from None
    except ValueError as error:
        raise KubeconfigError(f"{source} is not a usable kubeconfig: {error}") from None
    name = cluster.name
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": name,
                "cluster": {
                    "certificate-authority-data": _b64(contents.ca_pem),
                    "server": control_plane_url(cluster),
                },
            }
        ],
        "contexts": [{"name": name, "context": {"cluster": name, "user": f"{name}-admin"}}],
        "current-context": name,
        "preferences": {},
        "users": [
            {
                "name": f"{name}-admin",
                "user": {
                    "client-certificate-data": _b64(contents.cert_pem),
                    "client-key-data": _b64(contents.key_pem),
                },
            }
        ],
    }


def render_kubeconfig_document(document: dict[str, Any]) -> bytes:
    return yaml.safe_dump(document, sort_keys=False).encode()


def write_private_atomic(path: Path, data: bytes) -> None:
    """``data`` to ``path`` (0600 from the first byte) through a temporary file and a rename:
    readers see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def write_user_kubeconfig(cluster: Cluster, *, check: bool = False) -> Change:
    """``<workDir>/kubeconfig`` as :func:`user_kubeconfig` makes it (a rerun changes nothing)."""
    path = user_kubeconfig_path(cluster)
    if check and not (default_pki_directory(cluster) / ADMIN_SOURCE).exists():
        # A dry run before the pki phase has made the admin's credentials.
        return Change(True, f"write {path}", "create (from the pki phase's admin kubeconfig)")
    wanted = render_kubeconfig_document(user_kubeconfig(cluster))
    try:
        current = path.read_bytes()
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        current, mode = None, 0
    if current == wanted and mode == 0o600:
        return Change(False, f"write {path}", "")
    detail = "create" if current is None else ("update" if current != wanted else "chmod 0600")
    if not check:
        write_private_atomic(path, wanted)
    return Change(True, f"write {path}", detail)


@dataclass(frozen=True)
class WriteUserKubeconfig(Step):
    """``<workDir>/kubeconfig`` on the control machine: the admin's credentials from the
    cluster PKI, server = the control-plane endpoint (run it once the API answers there, on
    ``ControlMachine()``)."""

    name = "user-kubeconfig"
    description = "the user's admin kubeconfig in the work dir (server: the endpoint)"

    async def precheck(self, ctx: Context) -> Change:
        return write_user_kubeconfig(ctx.cluster.config, check=True)

    async def run(self, ctx: Context) -> Change:
        return write_user_kubeconfig(ctx.cluster.config)


# -- merging into the user's own kubeconfig --------------------------------------------------


class MergeAction(Enum):
    ADDED = "added"
    REPLACED = "replaced"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class MergeResult:
    path: Path
    context: str
    action: MergeAction
    current_context: str

    def message(self) -> str:
        where = str(self.path)
        if self.action is MergeAction.ADDED:
            said = f"added context {self.context!r} to {where}"
        elif self.action is MergeAction.REPLACED:
            said = f"replaced context {self.context!r} in {where} (same cluster CA)"
        else:
            said = f"context {self.context!r} in {where} is already up to date"
        if self.current_context != self.context:
            said += f"; current context stays {self.current_context!r}"
            said += f" (switch: kubectl config use-context {self.context})"
        return said


def default_user_kubeconfig(environ: dict[str, str] | None = None) -> Path:
    """The file kubectl writes to: $KUBECONFIG's first entry, else ~/.kube/config."""
    env = os.environ if environ is None else environ
    for entry in env.get("KUBECONFIG", "").split(os.pathsep):
        if entry:
            return Path(entry).expanduser()
    return Path("~/.kube/config").expanduser()


def _named(items: Any, name: str) -> dict[str, Any] | None:
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and item.get("name") == name:
            return item
    return None


def _cluster_ca(document: dict[str, Any], context_name: str) -> str | None:
    context = _named(document.get("contexts"), context_name)
    cluster_ref = (context or {}).get("context", {}).get("cluster")
    cluster = _named(document.get("clusters"), str(cluster_ref)) if cluster_ref else None
    ca = (cluster or {}).get("cluster", {}).get("certificate-authority-data")
    return ca if isinstance(ca, str) else None


def merge_kubeconfig(
    existing: dict[str, Any] | None, ours: dict[str, Any], path: Path
) -> tuple[dict[str, Any], MergeResult]:
    """``existing`` with our cluster, user and context added (or replaced, when they are ours);
    every other entry and the current context kept (ours becomes current only in a file
    that had none). KubeconfigError when an entry of our names belongs to another cluster."""
    merged: dict[str, Any] = copy.deepcopy(existing) if existing else {}
    merged.setdefault("apiVersion", "v1")
    merged.setdefault("kind", "Config")
    context_name = ours["contexts"][0]["name"]
    our_ca = ours["clusters"][0]["cluster"]["certificate-authority-data"]
    action = MergeAction.ADDED
    for kind in ("clusters", "users", "contexts"):
        entry = ours[kind][0]
        items = merged.get(kind)
        if items is None:
            items = merged[kind] = []
        if not isinstance(items, list):
            raise KubeconfigError(f"{path}: {kind} is not a list; fix or move the file")
        found = _named(items, entry["name"])
        if found is None:
            continue
        if kind == "clusters":
            theirs = found.get("cluster", {}).get("certificate-authority-data")
        elif kind == "contexts":
            theirs = _cluster_ca(merged, entry["name"])
        else:
            theirs = _user_owner_ca(merged, entry["name"])
        if theirs != our_ca:
            raise KubeconfigError(
                f"{path} already has a {kind[:-1]} named {entry['name']!r} for another cluster "
                f"(a different CA); it was left alone. Rename or delete it (kubectl config "
                f"delete-{kind[:-1]} {entry['name']}), or write ours elsewhere with KUBECONFIG"
            )
        action = MergeAction.REPLACED
    for kind in ("clusters", "users", "contexts"):
        entry = ours[kind][0]
        items = merged[kind]
        found = _named(items, entry["name"])
        if found is None:
            items.append(copy.deepcopy(entry))
        else:
            items[items.index(found)] = copy.deepcopy(entry)
    if existing is not None and action is MergeAction.REPLACED and merged == existing:
        action = MergeAction.UNCHANGED
    if not merged.get("current-context"):
        merged["current-context"] = context_name
    result = MergeResult(path, context_name, action, str(merged["current-context"]))
    return merged, result


def _user_owner_ca(document: dict[str, Any], user_name: str) -> str | None:
    """The CA of the cluster a context pairs with ``user_name`` (the user's owner)."""
    for context in document.get("contexts") or []:
        if isinstance(context, dict) and context.get("context", {}).get("user") == user_name:
            ca = _cluster_ca(document, str(context.get("name")))
            if ca is not None:
                return ca
    return None


def merge_into_file(cluster: Cluster, path: Path, pki_dir: Path | None = None) -> MergeResult:
    """Merge the user's kubeconfig into ``path`` (atomic, 0600); what happened."""
    ours = user_kubeconfig(cluster, pki_dir)
    existing: dict[str, Any] | None = None
    if path.exists():
        try:
            loaded = yaml.safe_load(path.read_bytes())
        except yaml.YAMLError as error:
            raise KubeconfigError(f"{path} is not YAML ({error}); it was left alone") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise KubeconfigError(f"{path} is not a kubeconfig; it was left alone")
        existing = loaded
    merged, result = merge_kubeconfig(existing, ours, path)
    if result.action is not MergeAction.UNCHANGED or (path.stat().st_mode & 0o777) != 0o600:
        write_private_atomic(path, render_kubeconfig_document(merged))
    return result
