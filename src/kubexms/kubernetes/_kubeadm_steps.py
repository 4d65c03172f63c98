"""The steps only kubeadm mode needs: ``kubeadm init`` on the first master and a bootstrap token
that is still valid (whose cluster a host already belongs to is ``_kubeadm_membership``, and
``kubeadm join`` everywhere else ``_kubeadm_join``), and what they share: running kubeadm with its
output masked, the cluster's CA and token.

kubeadm's configuration files carry the bootstrap token: they are rendered on the control
machine when the step runs (the token read from ``<workDir>/kubernetes/bootstrap-token``),
never step parameters, written 0600 through the runner's stdin and kept 0600 in
``/etc/kubernetes/kubeadm`` as the record of what the node was set up with (the token in them
expires two hours after it was made). kubeadm's own output is masked on the host before it
travels (a token pattern becomes ``<token>``), so neither a log nor an error carries it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from shlex import quote

from kubexms.engine import Step
from kubexms.kubernetes._bootstrap import (
    BootstrapToken,
    bootstrap_token_path,
    stored_bootstrap_token,
)
from kubexms.kubernetes._kubeadm_config import (
    KUBEADM_API,
    init_documents,
    to_yaml,
)
from kubexms.kubernetes._layout import (
    ADMIN_CONF,
    KUBEADM_BINARY,
    KUBEADM_TOKEN_CONFIG,
    KUBECTL_BINARY,
    MANIFESTS_DIR,
)
from kubexms.pki import default_pki_directory
from kubexms.runner import Change, RunnerError
from kubexms.runtime import Context
from kubexms.steps import SECRET_MARKER, RenderContext, RenderedFile

KUBELET_CONFIG = "/var/lib/kubelet/config.yaml"
API_SERVER_MANIFEST = f"{MANIFESTS_DIR}/kube-apiserver.yaml"
ETCD_MANIFEST = f"{MANIFESTS_DIR}/etcd.yaml"
BOOTSTRAP_KUBELET_CONF = "/etc/kubernetes/bootstrap-kubelet.conf"
CONFIG_MODE = 0o600
TOKEN_TTL = "2h0m0s"  # noqa: S105  (a duration)
TOKEN_MARGIN = dt.timedelta(minutes=15)
"""A token that expires sooner than this is made again before nodes join with it."""
_TOKEN_SED = r"sed -E 's/[a-z0-9]{6}\.[a-z0-9]{16}/<token>/g'"  # noqa: S105  (a pattern)
_OUTPUT_LINES = 25
RENDER_TOKEN = BootstrapToken("abcdef", "0123456789abcdef")


class KubeadmError(RunnerError):
    """kubeadm refused or failed on a host; carries its last output lines (tokens masked)."""


class ForeignClusterError(RunnerError):
    """kubeadm set this host up for another cluster: refused, never reset."""


def _masked(command: str) -> str:
    """``command`` with its output (stdout and stderr) masked on the host, then the exit code
    on a line of its own."""
    return f'{{ {command} 2>&1; echo "@kxms:exit $?"; }} | {_TOKEN_SED}'


async def run_masked(ctx: Context, command: str, what: str, timeout: float) -> str:
    result = await ctx.runner.run(_masked(command), sudo=ctx.runner.sudo, timeout=timeout)
    lines = result.stdout.splitlines()
    codes = [line.split()[-1] for line in lines if line.startswith("@kxms:exit ")]
    output = [line for line in lines if not line.startswith("@kxms:exit ")]
    if codes != ["0"]:
        shown = "\n    ".join(output[-_OUTPUT_LINES:]) or result.stderr.strip() or "no output"
        code = codes[0] if codes else f"unknown (shell exit {result.exit_code})"
        raise KubeadmError(ctx.host.name, f"{what} failed (exit {code}):\n    {shown}")
    return "\n".join(output)


def pki_directory(ctx: Context, pki_dir: str | None) -> Path:
    return Path(pki_dir) if pki_dir is not None else default_pki_directory(ctx.cluster.config)


async def our_ca(ctx: Context, pki_dir: str | None) -> bytes:
    path = pki_directory(ctx, pki_dir) / "ca.crt"
    try:
        return await asyncio.to_thread(path.read_bytes)
    except OSError as error:
        raise RunnerError(
            ctx.host.name, f"the cluster CA {path} cannot be read ({error.strerror})"
        ) from None


async def cluster_token(ctx: Context) -> BootstrapToken:
    return await asyncio.to_thread(stored_bootstrap_token, bootstrap_token_path(ctx.cluster.config))


async def existing(ctx: Context, paths: tuple[str, ...]) -> set[str]:
    """Which of ``paths`` are files on the host (one round trip)."""
    script = "\n".join(f"[ -f {quote(path)} ] && echo {quote(path)}" for path in paths)
    result = await ctx.runner.script(f"{script}\ntrue")
    return set(result.stdout.split()) & set(paths)


def masked_token_yaml(text: str, token: BootstrapToken) -> bytes:
    return text.replace(token.value, SECRET_MARKER).encode()


@dataclass(frozen=True)
class KubeadmInit(Step):
    """``kubeadm init --config`` on the first master, once.

    Done when the API server's static pod manifest and the kubelet's configuration exist
    (kubeadm wrote them): a rerun changes nothing. The configuration (InitConfiguration with
    the bootstrap token, ClusterConfiguration, KubeletConfiguration, KubeProxyConfiguration)
    goes to ``path`` (0600) just before kubeadm reads it.
    """

    path: str
    pki_dir: str | None = None
    timeout_seconds: float = 600.0
    name: str = "init"

    description = "kubeadm init --config {path} (once)"
    timeout = 900.0

    async def _done(self, ctx: Context) -> bool:
        wanted = (API_SERVER_MANIFEST, KUBELET_CONFIG)
        return await existing(ctx, wanted) == set(wanted)

    async def precheck(self, ctx: Context) -> Change:
        if await self._done(ctx):
            return Change(False, "kubeadm init")
        return Change(True, "kubeadm init", f"kubeadm init --config {self.path}")

    async def run(self, ctx: Context) -> Change:
        if await self._done(ctx):
            return Change(False, "kubeadm init")
        token = await cluster_token(ctx)
        text = to_yaml(init_documents(ctx.cluster.config, token))
        await ctx.runner.files.write(self.path, text, mode=CONFIG_MODE)
        await run_masked(
            ctx,
            f"{KUBEADM_BINARY} init --config {quote(self.path)} --skip-token-print",
            "kubeadm init",
            self.timeout_seconds,
        )
        return Change(True, "kubeadm init", "initialised the control plane")

    def rendered_files(self, ctx: RenderContext) -> list[RenderedFile]:
        """The init configuration, its token shown as the secret marker."""
        text = to_yaml(init_documents(ctx.cluster, RENDER_TOKEN))
        return [RenderedFile(self.path, masked_token_yaml(text, RENDER_TOKEN), CONFIG_MODE)]


def token_configuration(token: BootstrapToken) -> str:
    """The InitConfiguration ``kubeadm token create --config`` reads: the token alone."""
    return to_yaml(
        [
            {
                "apiVersion": KUBEADM_API,
                "kind": "InitConfiguration",
                "bootstrapTokens": [
                    {
                        "token": token.value,
                        "description": "kubexms: joins of this cluster's nodes",
                        "ttl": TOKEN_TTL,
                        "usages": ["signing", "authentication"],
                        "groups": ["system:bootstrappers:kubeadm:default-node-token"],
                    }
                ],
            }
        ]
    )


@dataclass(frozen=True)
class BootstrapTokenValid(Step):
    """The cluster's bootstrap token exists in the cluster and is valid for a while yet.

    Asked of the API server on the first master (``kubectl get secret bootstrap-token-<id>``,
    its expiration only, never the secret part). A missing or expiring token is made again
    with ``kubeadm token create --config`` (an expired one deleted first by its public id):
    the token travels in a 0600 file, removed once kubeadm read it, never in argv.
    """

    name: str = "bootstrap-token"

    description = "the bootstrap token is in the cluster and valid for at least 15 minutes"
    timeout = 300.0

    async def _expiration(self, ctx: Context, token: BootstrapToken) -> dt.datetime | None:
        """When the token expires; None when the cluster has no such token."""
        secret = f"bootstrap-token-{token.token_id}"
        command = (
            f"{KUBECTL_BINARY} --kubeconfig {ADMIN_CONF} -n kube-system get secret {secret} "
            "-o jsonpath='{.data.expiration}'"
        )
        result = await ctx.runner.run(command, sudo=ctx.runner.sudo, timeout=60)
        if not result.ok:
            if re.search(r"NotFound|not found", result.stderr):
                return None
            raise KubeadmError(
                ctx.host.name,
                f"cannot ask the API server for the bootstrap token {token.token_id}: "
                f"{result.stderr.strip()[-300:]}",
            )
        try:
            text = base64.b64decode(result.stdout.strip()).decode()
            return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except (binascii.Error, ValueError):
            return dt.datetime.max.replace(tzinfo=dt.UTC)  # no expiration: never expires

    async def _state(self, ctx: Context) -> tuple[BootstrapToken, dt.datetime | None, bool]:
        token = await cluster_token(ctx)
        expires = await self._expiration(ctx, token)
        fresh = expires is not None and expires - dt.datetime.now(dt.UTC) > TOKEN_MARGIN
        return token, expires, fresh

    async def precheck(self, ctx: Context) -> Change:
        token, expires, fresh = await self._state(ctx)
        if fresh:
            return Change(False, "bootstrap token")
        detail = "create it" if expires is None else f"make it again (expires {expires:%H:%M}Z)"
        return Change(True, "bootstrap token", f"{token.token_id}: {detail}")

    async def run(self, ctx: Context) -> Change:
        token, expires, fresh = await self._state(ctx)
        if fresh:
            return Change(False, "bootstrap token")
        if expires is not None:
            await run_masked(
                ctx,
                f"{KUBEADM_BINARY} token delete --kubeconfig {ADMIN_CONF} {token.token_id}",
                "kubeadm token delete",
                120,
            )
        await ctx.runner.files.write(
            KUBEADM_TOKEN_CONFIG, token_configuration(token), mode=CONFIG_MODE
        )
        try:
            await run_masked(
                ctx,
                f"{KUBEADM_BINARY} token create --kubeconfig {ADMIN_CONF} "
                f"--config {quote(KUBEADM_TOKEN_CONFIG)}",
                "kubeadm token create",
                120,
            )
        finally:
            await ctx.runner.files.remove(KUBEADM_TOKEN_CONFIG)
        return Change(True, "bootstrap token", f"{token.token_id}: made again")
