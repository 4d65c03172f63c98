"""``kubeadm join`` on every host but the first master."""

from __future__ import annotations

from dataclasses import dataclass
from shlex import quote

from kubexms.engine import Step
from kubexms.kubernetes._bootstrap import ca_cert_hash
from kubexms.kubernetes._kubeadm_config import join_documents, to_yaml
from kubexms.kubernetes._kubeadm_steps import (
    API_SERVER_MANIFEST,
    BOOTSTRAP_KUBELET_CONF,
    CONFIG_MODE,
    ETCD_MANIFEST,
    RENDER_TOKEN,
    KubeadmError,
    cluster_token,
    existing,
    masked_token_yaml,
    our_ca,
    run_masked,
)
from kubexms.kubernetes._layout import KUBEADM_BINARY, KUBELET_CONF
from kubexms.runner import Change
from kubexms.runtime import Context
from kubexms.steps import RenderContext, RenderedFile


@dataclass(frozen=True)
class KubeadmJoin(Step):
    """``kubeadm join --config`` on this host (as a control-plane node when ``control_plane``).

    Done when ``/etc/kubernetes/kubelet.conf`` exists (and, for a master, the API server's
    manifest, and with stacked etcd its etcd member's): the host is a member (KubeadmMembership
    ran first and found it is this cluster's). The JoinConfiguration pins the CA by the hash of
    the cluster CA on this machine.

    A join cut off after its kubelet started (a killed run, a lost host) cannot be finished by
    running ``kubeadm join`` again (kubeadm's preflight refuses the files and ports it left):
    that host is refused with what was found and the way out, never reset silently.
    """

    path: str
    control_plane: bool = False
    pki_dir: str | None = None
    timeout_seconds: float = 600.0
    name: str = "join"

    description = "kubeadm join --config {path} (control plane: {control_plane}; once)"
    timeout = 900.0

    def _markers(self, ctx: Context) -> tuple[str, ...]:
        if not self.control_plane:
            return (KUBELET_CONF,)
        if ctx.cluster.config.spec.etcd.type == "kubeadm":
            return (KUBELET_CONF, API_SERVER_MANIFEST, ETCD_MANIFEST)
        return (KUBELET_CONF, API_SERVER_MANIFEST)

    async def _done(self, ctx: Context) -> bool:
        """Whether the host joined; a KubeadmError when an earlier join stopped half way."""
        markers = self._markers(ctx)
        found = await existing(ctx, (*markers, BOOTSTRAP_KUBELET_CONF))
        if found >= set(markers):
            return True
        started = found & {KUBELET_CONF, BOOTSTRAP_KUBELET_CONF}
        if started:
            missing = [path for path in markers if path not in found]
            raise KubeadmError(
                ctx.host.name,
                f"an earlier kubeadm join stopped half way here: {', '.join(sorted(started))} "
                f"exist(s) but {', '.join(missing)} do(es) not, and kubeadm cannot continue it. "
                f"Run `kubeadm reset -f` on {ctx.host.name}"
                + (" (it also removes its etcd member)" if ETCD_MANIFEST in markers else "")
                + ", then rerun with --resume",
            )
        return False

    async def precheck(self, ctx: Context) -> Change:
        if await self._done(ctx):
            return Change(False, "kubeadm join")
        return Change(True, "kubeadm join", f"kubeadm join --config {self.path}")

    async def run(self, ctx: Context) -> Change:
        if await self._done(ctx):
            return Change(False, "kubeadm join")
        token = await cluster_token(ctx)
        pin = ca_cert_hash(await our_ca(ctx, self.pki_dir))
        documents = join_documents(ctx.cluster.config, ctx.host.name, token, [pin])
        await ctx.runner.files.write(self.path, to_yaml(documents), mode=CONFIG_MODE)
        command = f"{KUBEADM_BINARY} join --config {quote(self.path)}"
        await run_masked(ctx, command, "kubeadm join", self.timeout_seconds)
        return Change(True, "kubeadm join", "joined the cluster")

    def rendered_files(self, ctx: RenderContext) -> list[RenderedFile]:
        """The join configuration (the CA pin from the PKI on this machine, when it exists),
        its token shown as the secret marker."""
        try:
            pin = ca_cert_hash((ctx.pki_dir / "ca.crt").read_bytes())
        except OSError:
            pin = "sha256:<the cluster CA's hash, once the pki phase made it>"
        documents = join_documents(ctx.cluster, ctx.host.name, RENDER_TOKEN, [pin])
        text = to_yaml(documents)
        return [RenderedFile(self.path, masked_token_yaml(text, RENDER_TOKEN), CONFIG_MODE)]
