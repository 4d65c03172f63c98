"""ApplyClusterObjects: what kubeadm would create, applied with kubectl on the first master."""

from __future__ import annotations

import asyncio
import hashlib
import shlex
from dataclasses import dataclass
from pathlib import Path

from kubexms.config import Cluster
from kubexms.engine import OperationStep
from kubexms.kubernetes.binary._layout import SUPER_ADMIN_CONF, binary
from kubexms.kubernetes.binary._objects import bootstrap_objects, to_manifest
from kubexms.pki import default_pki_directory
from kubexms.runner import Change
from kubexms.runtime import Context
from kubexms.steps import RenderContext, RenderedFile

MANIFEST = "/etc/kubernetes/kubexms/cluster-objects.yaml"
FIELD_MANAGER = "kubexms"


def cluster_objects_manifest(cluster: Cluster, pki_dir: Path) -> str:
    """The manifest ApplyClusterObjects applies (the CA is read from the cluster PKI)."""
    ca_pem = (pki_dir / "ca.crt").read_bytes()
    return to_manifest(bootstrap_objects(cluster, ca_pem))


def apply_argv(manifest: str = MANIFEST, kubeconfig: str = SUPER_ADMIN_CONF) -> list[str]:
    """``kubectl apply --server-side`` of ``manifest`` as kubexms, with the super-admin
    kubeconfig (a file on the host: no credential on the command line)."""
    return [
        binary("kubectl"),
        f"--kubeconfig={kubeconfig}",
        "apply",
        "--server-side",
        f"--field-manager={FIELD_MANAGER}",
        "--force-conflicts",
        "-f",
        manifest,
    ]


@dataclass(frozen=True)
class ApplyClusterObjects(OperationStep):
    """The RBAC bindings, ``cluster-info`` and CoreDNS's kube-system objects (see
    ``_objects``), applied server-side on this host with the super-admin kubeconfig: admin.conf's
    group ``kubeadm:cluster-admins`` has no rights until the binding in this very set exists, so
    (as kubeadm does) the first apply goes as ``system:masters``.

    The manifest is kept at ``manifest`` with a stamp of the sha256 last applied beside it, so
    the precheck knows without asking the API server whether this exact set was applied: a
    rerun changes nothing, a changed cluster file applies again (server-side apply only
    changes what differs). The stamp is written only after kubectl succeeded.
    """

    manifest: str = MANIFEST
    kubeconfig: str = SUPER_ADMIN_CONF
    timeout_seconds: int = 120
    name: str = "cluster-objects"

    description = "RBAC bindings, cluster-info and CoreDNS objects applied server-side"

    @property
    def stamp(self) -> str:
        return f"{self.manifest}.applied"

    def rendered_files(self, ctx: RenderContext) -> list[RenderedFile]:
        text = cluster_objects_manifest(ctx.cluster, ctx.pki_dir)
        return [RenderedFile(self.manifest, text.encode(), 0o644, "kubectl apply --server-side")]

    async def apply(self, ctx: Context, *, check: bool) -> Change:
        cluster = ctx.cluster.config
        text = await asyncio.to_thread(
            cluster_objects_manifest, cluster, default_pki_directory(cluster)
        )
        digest = hashlib.sha256(text.encode()).hexdigest()
        action = f"kubectl apply --server-side -f {self.manifest}"
        files = ctx.runner.files
        stamp = await ctx.runner.script(f"cat {shlex.quote(self.stamp)} 2>/dev/null || true")
        if stamp.stdout.strip() == digest and await files.sha256(self.manifest) == digest:
            return Change(False, action)
        if check:
            return Change(True, action, "apply the cluster objects")
        await files.write(self.manifest, text, mode=0o644)
        await ctx.runner.script(
            shlex.join(apply_argv(self.manifest, self.kubeconfig)), timeout=self.timeout_seconds
        )
        await files.write(self.stamp, digest + "\n", mode=0o644)
        return Change(True, action, "applied")
