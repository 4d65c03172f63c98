"""``kubeadm join`` on every host but the first master, and the finishing of a join that was cut
off half way (a killed run, a lost host).

kubeadm cannot run a whole ``join`` again over what a cut-off one left (its preflight refuses
the manifests, kubeconfigs and ports), but it runs each of its phases alone
(``kubeadm join phase <phase> --config``, cmd/kubeadm/app/cmd/phases/join in 1.31-1.34). A join's
phases, in kubeadm's order, and what each leaves on the host:

- ``control-plane-prepare`` (a master): the kubeconfigs and the control plane's static pod
  manifests in ``/etc/kubernetes``;
- ``kubelet-start``: ``bootstrap-kubelet.conf`` and the kubelet's files, the kubelet (re)started;
  before 1.33 it then waits for the TLS bootstrap (``kubelet.conf``) and removes
  ``bootstrap-kubelet.conf``; it refuses a node of that name that is already Ready;
- stacked etcd on a master: ``control-plane-join etcd`` (before 1.33) or ``etcd-join`` (1.33+,
  kubeadm's ControlPlaneKubeletLocalMode on by default, before the TLS bootstrap) adds the
  member (an existing member of that peer URL is taken) and writes ``manifests/etcd.yaml``;
- ``kubelet-wait-bootstrap`` (1.33+): the TLS bootstrap waited for, ``bootstrap-kubelet.conf``
  removed;
- ``control-plane-join mark-control-plane`` (a master): the node labelled
  ``node-role.kubernetes.io/control-plane`` and given its taints.

So what a host holds says which phases ran, and only the missing ones run, with the same
configuration (rendered again: the token in the old one may have expired).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from shlex import quote
from typing import Any

from kubexms.engine import Step
from kubexms.kubernetes._bootstrap import ca_cert_hash
from kubexms.kubernetes._kubeadm_config import join_documents, node_taints, to_yaml
from kubexms.kubernetes._kubeadm_steps import (
    API_SERVER_MANIFEST,
    BOOTSTRAP_KUBELET_CONF,
    CONFIG_MODE,
    ETCD_MANIFEST,
    RENDER_TOKEN,
    KubeadmError,
    cluster_token,
    masked_token_yaml,
    our_ca,
    run_masked,
)
from kubexms.kubernetes._layout import (
    ADMIN_CONF,
    CONTROL_PLANE_TAINT,
    KUBEADM_BINARY,
    KUBECTL_BINARY,
    KUBELET_CONF,
    MANIFESTS_DIR,
)
from kubexms.runner import Change
from kubexms.runtime import Context
from kubexms.steps import RenderContext, RenderedFile

PREPARED_MANIFESTS = (
    API_SERVER_MANIFEST,
    f"{MANIFESTS_DIR}/kube-controller-manager.yaml",
    f"{MANIFESTS_DIR}/kube-scheduler.yaml",
)
"""What control-plane-prepare writes last: the control plane's static pod manifests."""
LOCAL_MODE_SINCE = (1, 33)
"""kubeadm's ControlPlaneKubeletLocalMode is on by default from 1.33 (beta)."""


@dataclass(frozen=True)
class JoinState:
    """What an earlier ``kubeadm join`` left on a host."""

    files: frozenset[str]
    """Which of kubeadm's files (kubelet.conf, bootstrap-kubelet.conf, the manifests) exist."""
    marked: bool = False
    """The node is labelled control-plane and has its taints (asked only of a master whose
    kubelet bootstrapped)."""


def finishing_phases(
    state: JoinState, *, control_plane: bool, stacked: bool, local_mode: bool
) -> list[str] | None:
    """The ``kubeadm join phase`` arguments that finish a cut-off join, in kubeadm's order;
    ``[]`` when the join is complete, None when no join started here (a whole join runs)."""
    files = state.files
    kubelet = KUBELET_CONF in files
    started = kubelet or BOOTSTRAP_KUBELET_CONF in files
    prepared = control_plane and any(path in files for path in PREPARED_MANIFESTS)
    if not started and not prepared:
        return None
    phases: list[str] = []
    if control_plane and not started:
        phases.append("control-plane-prepare all")
    if not kubelet:
        phases.append("kubelet-start")
    if control_plane and stacked and ETCD_MANIFEST not in files:
        phases.append("etcd-join" if local_mode else "control-plane-join etcd")
    if local_mode and not kubelet:
        phases.append("kubelet-wait-bootstrap")
    if control_plane and not (kubelet and state.marked):
        phases.append("control-plane-join mark-control-plane")
    return phases


def is_marked(node: dict[str, Any], taints: list[dict[str, Any]]) -> bool:
    """Whether mark-control-plane ran on ``node`` (a Node object): its label and taints."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    has = {(t.get("key"), t.get("effect")) for t in (node.get("spec") or {}).get("taints") or []}
    wanted = {(t["key"], t["effect"]) for t in taints}
    return CONTROL_PLANE_TAINT in labels and wanted <= has


@dataclass(frozen=True)
class KubeadmJoin(Step):
    """``kubeadm join --config`` on this host (as a control-plane node when ``control_plane``),
    or the phases a cut-off join did not run.

    Done when ``/etc/kubernetes/kubelet.conf`` exists and no ``bootstrap-kubelet.conf`` is left
    (for a master also the API server's manifest, with stacked etcd its etcd member's, and the
    node marked as control plane): the host is a member (KubeadmMembership ran first and found
    it is this cluster's). The JoinConfiguration pins the CA by the hash of the cluster CA on
    this machine. A join cut off half way is finished phase by phase (see the module), never
    reset; a ``bootstrap-kubelet.conf`` left beside ``kubelet.conf`` (kubeadm removes it once
    the TLS bootstrap is done) is removed: it holds the bootstrap token.
    """

    path: str
    control_plane: bool = False
    pki_dir: str | None = None
    timeout_seconds: float = 600.0
    name: str = "join"

    description = "kubeadm join --config {path} (control plane: {control_plane}; once)"
    timeout = 900.0

    def _stacked(self, ctx: Context) -> bool:
        return ctx.cluster.config.spec.etcd.type == "kubeadm"

    def _local_mode(self, ctx: Context) -> bool:
        major, minor = ctx.cluster.config.spec.kubernetes.version.lstrip("v").split(".")[:2]
        return (int(major), int(minor)) >= LOCAL_MODE_SINCE

    async def _state(self, ctx: Context) -> JoinState:
        """The files, and for a master whose kubelet bootstrapped its Node (one round trip)."""
        paths = (KUBELET_CONF, BOOTSTRAP_KUBELET_CONF, *PREPARED_MANIFESTS, ETCD_MANIFEST)
        script = "\n".join(f"[ -f {quote(path)} ] && echo {quote(path)}" for path in paths)
        if self.control_plane:
            node = quote(ctx.host.name)
            script += f"""
if [ -f {KUBELET_CONF} ] && [ -f {ADMIN_CONF} ]; then
  if out=$({KUBECTL_BINARY} --kubeconfig {ADMIN_CONF} --request-timeout=20s get node {node} \
-o json 2>&1); then
    echo "@kxms:node $(printf %s "$out" | base64 -w0)"
  else
    echo "@kxms:node-error $(printf %s "$out" | tail -n 1)"
  fi
fi"""
        result = await ctx.runner.script(f"{script}\ntrue")
        files: set[str] = set()
        marked = False
        for line in result.stdout.splitlines():
            kind, _, rest = line.partition(" ")
            if kind == "@kxms:node":
                marked = is_marked(_node(ctx, rest), node_taints(ctx.cluster.config, ctx.host.name))
            elif kind == "@kxms:node-error":
                if "NotFound" not in rest:  # not registered yet: not marked
                    raise KubeadmError(
                        ctx.host.name,
                        f"cannot ask the API server whether {ctx.host.name} is marked as a "
                        f"control-plane node: {rest.strip()}",
                    )
            elif line.strip() in paths:
                files.add(line.strip())
        return JoinState(frozenset(files), marked)

    async def _plan(self, ctx: Context) -> tuple[list[str] | None, bool]:
        """The phases to run (None: a whole join) and whether a leftover
        bootstrap-kubelet.conf is to be removed."""
        state = await self._state(ctx)
        phases = finishing_phases(
            state,
            control_plane=self.control_plane,
            stacked=self._stacked(ctx),
            local_mode=self._local_mode(ctx),
        )
        leftover = {KUBELET_CONF, BOOTSTRAP_KUBELET_CONF} <= state.files
        return phases, leftover

    async def precheck(self, ctx: Context) -> Change:
        phases, leftover = await self._plan(ctx)
        if phases is None:
            return Change(True, "kubeadm join", f"kubeadm join --config {self.path}")
        if not phases and not leftover:
            return Change(False, "kubeadm join")
        return Change(True, "kubeadm join", _finishing(phases, leftover))

    async def run(self, ctx: Context) -> Change:
        phases, leftover = await self._plan(ctx)
        if phases is not None and not phases:
            if not leftover:
                return Change(False, "kubeadm join")
            await ctx.runner.files.remove(BOOTSTRAP_KUBELET_CONF)
            return Change(True, "kubeadm join", _finishing(phases, leftover))
        token = await cluster_token(ctx)
        pin = ca_cert_hash(await our_ca(ctx, self.pki_dir))
        documents = join_documents(ctx.cluster.config, ctx.host.name, token, [pin])
        await ctx.runner.files.write(self.path, to_yaml(documents), mode=CONFIG_MODE)
        config = quote(self.path)
        if phases is None:
            command = f"{KUBEADM_BINARY} join --config {config}"
            await run_masked(ctx, command, "kubeadm join", self.timeout_seconds)
            return Change(True, "kubeadm join", "joined the cluster")
        if leftover:
            await ctx.runner.files.remove(BOOTSTRAP_KUBELET_CONF)
        for phase in phases:
            command = f"{KUBEADM_BINARY} join phase {phase} --config {config}"
            await run_masked(ctx, command, f"kubeadm join phase {phase}", self.timeout_seconds)
        left, _ = await self._plan(ctx)
        if left:
            raise KubeadmError(
                ctx.host.name,
                f"kubeadm's join phases ran ({', '.join(phases)}) but these are still to do: "
                + ", ".join(left),
            )
        return Change(
            True, "kubeadm join", "finished the cut-off join: " + _finishing(phases, leftover)
        )

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


def _finishing(phases: list[str], leftover: bool) -> str:
    done = [f"kubeadm join phase {phase}" for phase in phases]
    if leftover:
        done.insert(0, f"remove the leftover {BOOTSTRAP_KUBELET_CONF}")
    return "; ".join(done)


def _node(ctx: Context, data: str) -> dict[str, Any]:
    try:
        node: dict[str, Any] = json.loads(base64.b64decode(data.strip(), validate=True))
    except (binascii.Error, ValueError):
        raise KubeadmError(
            ctx.host.name, f"kubectl get node {ctx.host.name} answered something not JSON"
        ) from None
    return node
