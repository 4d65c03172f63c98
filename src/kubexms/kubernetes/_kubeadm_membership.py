"""Whose cluster a host already belongs to: the check that runs before kubeadm touches a host.

Only public lines are read (the CA and server of a kubeconfig, the CA certificate), never a
client key.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from dataclasses import dataclass

from kubexms.engine import Check
from kubexms.kubernetes._bootstrap import ca_cert_hash
from kubexms.kubernetes._kubeadm_steps import ForeignClusterError, our_ca, pki_directory
from kubexms.kubernetes._layout import ADMIN_CONF, API_SERVER_PORT, CA_CERT, KUBELET_CONF
from kubexms.runtime import Context


@dataclass(frozen=True)
class KubeadmMembership(Check):
    """What kubeadm left on this host, if anything, belongs to this cluster.

    ``/etc/kubernetes/kubelet.conf`` and ``admin.conf`` must trust this cluster's CA and name
    its endpoint (a master's kubelet.conf may name its own API server instead), and
    ``/etc/kubernetes/pki/ca.crt`` must be its CA: a host kubeadm set up for another cluster is
    refused with what differs, and nothing on it is touched (never a silent
    ``kubeadm reset``). Only public lines are read (the CA and server of a kubeconfig, the CA
    certificate), never a client key.
    """

    endpoint: str
    """``https://host:port``: the server every kubeconfig of this cluster names."""
    pki_dir: str | None = None
    name: str = "membership"

    description = "kubeadm's files here, if any, are this cluster's (CA, endpoint {endpoint})"

    def _servers(self, ctx: Context, path: str) -> set[str]:
        """The API servers ``path`` may name here: the endpoint; for a master's kubelet.conf
        also its own API server (kubeadm 1.33+, ControlPlaneKubeletLocalMode on by default,
        points a control-plane node's kubelet there)."""
        if path == KUBELET_CONF and "master" in ctx.host.roles:
            return {self.endpoint, f"https://{ctx.host.internal_address}:{API_SERVER_PORT}"}
        return {self.endpoint}

    async def verify(self, ctx: Context) -> None:
        # Before the pki phase has run (a dry run of a new cluster) there is no CA yet: any
        # kubeadm file on the host then belongs to another cluster.
        ca_path = pki_directory(ctx, self.pki_dir) / "ca.crt"
        ours = (
            ca_cert_hash(await our_ca(ctx, self.pki_dir))
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
            elif (
                kind == "@kxms:server"
                and path
                and rest.strip().strip("'\"") not in self._servers(ctx, path)
            ):
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
