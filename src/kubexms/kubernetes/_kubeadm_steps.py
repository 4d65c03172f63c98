"""The steps only kubeadm mode needs: whose cluster a host already belongs to, ``kubeadm init``
on the first master, ``kubeadm join`` everywhere else, and a bootstrap token that is still valid.

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

from kubexms.engine import Check, Step
from kubexms.kubernetes._bootstrap import (
    BootstrapToken,
    bootstrap_token_path,
    ca_cert_hash,
    stored_bootstrap_token,
)
from kubexms.kubernetes._kubeadm_config import (
    KUBEADM_API,
    init_documents,
    join_documents,
    to_yaml,
)
from kubexms.kubernetes._layout import (
    ADMIN_CONF,
    CA_CERT,
    KUBEADM_BINARY,
    KUBEADM_TOKEN_CONFIG,
    KUBECTL_BINARY,
    KUBELET_CONF,
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
_RENDER_TOKEN = BootstrapToken("abcdef", "0123456789abcdef")


class KubeadmError(RunnerError):
    """kubeadm refused or failed on a host; carries its last output lines (tokens masked)."""


class ForeignClusterError(RunnerError):
    """kubeadm set this host up for another cluster: refused, never reset."""


def _masked(command: str) -> str:
    """``command`` with its output (stdout and stderr) masked on the host, then the exit code
    on a line of its own."""
    return f'{{ {command} 2>&1; echo "@kxms:exit $?"; }} | {_TOKEN_SED}'


async def _run_masked(ctx: Context, command: str, what: str, timeout: float) -> str:
    result = await ctx.runner.run(_masked(command), sudo=ctx.runner.sudo, timeout=timeout)
    lines = result.stdout.splitlines()
    codes = [line.split()[-1] for line in lines if line.startswith("@kxms:exit ")]
    output = [line for line in lines if not line.startswith("@kxms:exit ")]
    if codes != ["0"]:
        shown = "\n    ".join(output[-_OUTPUT_LINES:]) or result.stderr.strip() or "no output"
        code = codes[0] if codes else f"unknown (shell exit {result.exit_code})"
        raise KubeadmError(ctx.host.name, f"{what} failed (exit {code}):\n    {shown}")
    return "\n".join(output)


def _pki_directory(ctx: Context, pki_dir: str | None) -> Path:
    return Path(pki_dir) if pki_dir is not None else default_pki_directory(ctx.cluster.config)


async def _our_ca(ctx: Context, pki_dir: str | None) -> bytes:
    path = _pki_directory(ctx, pki_dir) / "ca.crt"
    try:
        return await asyncio.to_thread(path.read_bytes)
    except OSError as error:
        raise RunnerError(
            ctx.host.name, f"the cluster CA {path} cannot be read ({error.strerror})"
        ) from None


async def _token(ctx: Context) -> BootstrapToken:
    return await asyncio.to_thread(stored_bootstrap_token, bootstrap_token_path(ctx.cluster.config))


async def _exist(ctx: Context, paths: tuple[str, ...]) -> set[str]:
    """Which of ``paths`` are files on the host (one round trip)."""
    script = "\n".join(f"[ -f {quote(path)} ] && echo {quote(path)}" for path in paths)
    result = await ctx.runner.script(f"{script}\ntrue")
    return set(result.stdout.split()) & set(paths)


def _masked_token_yaml(text: str, token: BootstrapToken) -> bytes:
    return text.replace(token.value, SECRET_MARKER).encode()


@dataclass(frozen=True)
class KubeadmMembership(Check):
    """What kubeadm left on this host, if anything, belongs to this cluster.

    ``/etc/kubernetes/kubelet.conf`` and ``admin.conf`` must trust this cluster's CA and name
    its endpoint, and ``/etc/kubernetes/pki/ca.crt`` must be its CA: a host kubeadm set up for
    another cluster is refused with what differs, and nothing on it is touched (never a silent
    ``kubeadm reset``). Only public lines are read (the CA and server of a kubeconfig, the CA
    certificate), never a client key.
    """

    endpoint: str
    """``https://host:port``: the server every kubeconfig of this cluster names."""
    pki_dir: str | None = None
    name: str = "membership"

    description = "kubeadm's files here, if any, are this cluster's (CA, endpoint {endpoint})"

    async def verify(self, ctx: Context) -> None:
        # Before the pki phase has run (a dry run of a new cluster) there is no CA yet: any
        # kubeadm file on the host then belongs to another cluster.
        ca_path = _pki_directory(ctx, self.pki_dir) / "ca.crt"
        ours = (
            ca_cert_hash(await _our_ca(ctx, self.pki_dir))
            if await asyncio.to_thread(ca_path.exists)
            else "not made yet"
        )
        # The file is named on a line of its own: a path is never part of a sed program.
        script = f"""for f in {KUBELET_CONF} {ADMIN_CONF}; do
  [ -f "$f" ] || continue
  echo "@kxms:file $f"
  sed -n -E 's/^ *(certificate-authority-data|server): *(.*)$/@kxms:\\1 \\2/p' "$f"
done
[ -f {CA_CERT} ] && echo "@kxms:ca-file $(base64 -w0 < {CA_CERT})"
true"""
        result = await ctx.runner.script(script)
        problems: list[str] = []
        trusted: dict[str, bool] = {}
        path = ""
        for line in result.stdout.splitlines():
            kind, _, rest = line.partition(" ")
            if kind == "@kxms:file":
                path = rest.strip()
                trusted[path] = False
            elif kind == "@kxms:ca-file":
                found = _hash_of_base64(rest)
                if found != ours:
                    problems.append(f"{CA_CERT} is the CA {found}")
            elif kind == "@kxms:certificate-authority-data" and path:
                trusted[path] = True
                found = _hash_of_base64(rest)
                if found != ours:
                    problems.append(f"{path} trusts the CA {found}")
            elif kind == "@kxms:server" and path and rest.strip().strip("'\"") != self.endpoint:
                problems.append(f"{path} names the API server {rest.strip()}")
        # Fail closed: a kubeconfig whose CA cannot be read is not taken for ours.
        problems += [
            f"{p} has no certificate-authority-data to check" for p, ok in trusted.items() if not ok
        ]
        if problems:
            raise ForeignClusterError(
                ctx.host.name,
                "kubeadm set this host up for another cluster: "
                + "; ".join(problems)
                + f" (this cluster: CA {ours}, endpoint {self.endpoint}). Refused; nothing was "
                "changed. Run `kubeadm reset` there if it is to leave that cluster",
            )


def _hash_of_base64(data: str) -> str:
    try:
        return ca_cert_hash(base64.b64decode(data.strip().strip("'\""), validate=True))
    except (binascii.Error, ValueError):
        return "that cannot be read"


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
        return await _exist(ctx, wanted) == set(wanted)

    async def precheck(self, ctx: Context) -> Change:
        if await self._done(ctx):
            return Change(False, "kubeadm init")
        return Change(True, "kubeadm init", f"kubeadm init --config {self.path}")

    async def run(self, ctx: Context) -> Change:
        if await self._done(ctx):
            return Change(False, "kubeadm init")
        token = await _token(ctx)
        text = to_yaml(init_documents(ctx.cluster.config, token))
        await ctx.runner.files.write(self.path, text, mode=CONFIG_MODE)
        await _run_masked(
            ctx,
            f"{KUBEADM_BINARY} init --config {quote(self.path)} --skip-token-print",
            "kubeadm init",
            self.timeout_seconds,
        )
        return Change(True, "kubeadm init", "initialised the control plane")

    def rendered_files(self, ctx: RenderContext) -> list[RenderedFile]:
        """The init configuration, its token shown as the secret marker."""
        text = to_yaml(init_documents(ctx.cluster, _RENDER_TOKEN))
        return [RenderedFile(self.path, _masked_token_yaml(text, _RENDER_TOKEN), CONFIG_MODE)]


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
        found = await _exist(ctx, (*markers, BOOTSTRAP_KUBELET_CONF))
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
        token = await _token(ctx)
        pin = ca_cert_hash(await _our_ca(ctx, self.pki_dir))
        documents = join_documents(ctx.cluster.config, ctx.host.name, token, [pin])
        await ctx.runner.files.write(self.path, to_yaml(documents), mode=CONFIG_MODE)
        command = f"{KUBEADM_BINARY} join --config {quote(self.path)}"
        await _run_masked(ctx, command, "kubeadm join", self.timeout_seconds)
        return Change(True, "kubeadm join", "joined the cluster")

    def rendered_files(self, ctx: RenderContext) -> list[RenderedFile]:
        """The join configuration (the CA pin from the PKI on this machine, when it exists),
        its token shown as the secret marker."""
        try:
            pin = ca_cert_hash((ctx.pki_dir / "ca.crt").read_bytes())
        except OSError:
            pin = "sha256:<the cluster CA's hash, once the pki phase made it>"
        documents = join_documents(ctx.cluster, ctx.host.name, _RENDER_TOKEN, [pin])
        text = to_yaml(documents)
        return [RenderedFile(self.path, _masked_token_yaml(text, _RENDER_TOKEN), CONFIG_MODE)]


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
        token = await _token(ctx)
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
            await _run_masked(
                ctx,
                f"{KUBEADM_BINARY} token delete --kubeconfig {ADMIN_CONF} {token.token_id}",
                "kubeadm token delete",
                120,
            )
        await ctx.runner.files.write(
            KUBEADM_TOKEN_CONFIG, token_configuration(token), mode=CONFIG_MODE
        )
        try:
            await _run_masked(
                ctx,
                f"{KUBEADM_BINARY} token create --kubeconfig {ADMIN_CONF} "
                f"--config {quote(KUBEADM_TOKEN_CONFIG)}",
                "kubeadm token create",
                120,
            )
        finally:
            await ctx.runner.files.remove(KUBEADM_TOKEN_CONFIG)
        return Change(True, "bootstrap token", f"{token.token_id}: made again")
