"""The steps only etcd needs: its data dir guarded against foreign data, the cluster's
membership checked, and external endpoints probed. Everything else is a building block."""

from __future__ import annotations

import base64
import binascii
import json
import shlex
from dataclasses import dataclass

from kubexms.engine import Check, CheckFailedError, Step
from kubexms.etcd._cluster_id import format_id, wal_cluster_id
from kubexms.etcd._layout import DATA_DIR_MODE, etcdctl_command
from kubexms.runner import Change, RunnerError
from kubexms.runtime import Context

_WAL_HEAD_BYTES = 4096


class ForeignDataError(RunnerError):
    """The data dir holds another etcd cluster's data: refused, never wiped."""


def _marker_lines(stdout: str, name: str) -> list[str]:
    prefix = f"@kxms:{name} "
    return [line[len(prefix) :] for line in stdout.splitlines() if line.startswith(prefix)]


@dataclass(frozen=True)
class EtcdDataDir(Step):
    """The data dir exists with mode 0700 and holds no other cluster's data.

    A data dir with a write-ahead log is read (the log's first record names its cluster)
    and compared with the id this cluster's members and token give; a different one is
    refused with both ids in the error, and nothing in the directory is touched. kubexms never
    deletes etcd data: moving it aside is for the operator (or ``kubexms etcd restore``).
    """

    path: str
    cluster_id: str
    """The cluster id, in etcd's hex, that this cluster's initial members bootstrap."""
    name: str = "data-dir"

    description = "data dir {path} (0700), holding only this cluster's data"

    def _probe_script(self) -> str:
        path = shlex.quote(self.path)
        return f"""p={path}
if [ -d "$p" ]; then echo "@kxms:mode $(stat -c %a "$p")"; fi
wal=$(ls "$p"/member/wal/*.wal 2>/dev/null | head -n 1)
if [ -n "$wal" ]; then
  echo "@kxms:wal $wal"
  echo "@kxms:head $(head -c {_WAL_HEAD_BYTES} "$wal" | base64 -w0)"
fi
if [ -d "$p/member" ] && [ -z "$wal" ]; then echo "@kxms:member-without-wal"; fi
true"""

    async def _inspect(self, ctx: Context) -> list[str]:
        result = await ctx.runner.script(self._probe_script())
        out = result.stdout
        wal = _marker_lines(out, "wal")
        if wal:
            try:
                head = base64.b64decode((_marker_lines(out, "head") or [""])[0])
            except (binascii.Error, ValueError):
                head = b""
            found = wal_cluster_id(head)
            if found is None:
                raise ForeignDataError(
                    ctx.host.name,
                    f"{self.path} holds etcd data whose cluster cannot be read from {wal[0]}; "
                    "kubexms will not start a member on it. Move it aside if it is not needed",
                )
            if format_id(found) != self.cluster_id:
                raise ForeignDataError(
                    ctx.host.name,
                    f"{self.path} holds the data of another etcd cluster (cluster id "
                    f"{format_id(found)}; this cluster's is {self.cluster_id}); refused and left "
                    "untouched. Move it aside (or set spec.etcd.dataDir) if it is not needed",
                )
        elif "@kxms:member-without-wal" in out:
            raise ForeignDataError(
                ctx.host.name,
                f"{self.path}/member exists without a write-ahead log: unknown etcd data; "
                "refused and left untouched",
            )
        pending = []
        mode = _marker_lines(out, "mode")
        if not mode:
            pending.append(f"create {self.path}")
        elif int(mode[0], 8) != DATA_DIR_MODE:
            pending.append(f"chmod {self.path} {DATA_DIR_MODE:o} (was {mode[0]})")
        return pending

    async def precheck(self, ctx: Context) -> Change:
        pending = await self._inspect(ctx)
        return Change(bool(pending), f"data dir {self.path}", "; ".join(pending))

    async def run(self, ctx: Context) -> Change:
        pending = await self._inspect(ctx)
        if pending:
            await ctx.runner.files.mkdir(self.path, mode=DATA_DIR_MODE)
            await ctx.runner.files.chmod(self.path, DATA_DIR_MODE)
        return Change(bool(pending), f"data dir {self.path}", "; ".join(pending))


@dataclass(frozen=True)
class EtcdClusterHealthy(Step):
    """Every member healthy over TLS, and the member list exactly the etcd role group.

    It changes nothing. Its precheck asks; "not yet" is what a dry run before the members were
    started reports (a pending change, not a failure). Its run asks again and fails with each
    member's health as etcdctl reports it.
    """

    members: tuple[str, ...]
    """``name=peer-url`` of every member the cluster must have."""
    endpoints: tuple[str, ...]
    name: str = "cluster"

    description = "every member healthy; members are {members}"

    async def precheck(self, ctx: Context) -> Change:
        try:
            await self.verify(ctx)
        except CheckFailedError as error:
            first = error.reason.splitlines()[0].rstrip(":")
            return Change(True, "etcd cluster healthy", f"not yet: {first}")
        return Change(False, "etcd cluster healthy")

    async def run(self, ctx: Context) -> Change:
        await self.verify(ctx)
        return Change(False, "etcd cluster healthy", "healthy now")

    async def verify(self, ctx: Context) -> None:
        """Raise CheckFailedError unless every member is healthy and the list is right."""
        # Both questions in one round trip: the health of every member, then the member list.
        health = etcdctl_command("endpoint health --command-timeout=5s", self.endpoints)
        listing = etcdctl_command("member list -w json")
        script = (
            f"answer=$({health} 2>&1); code=$?\n"
            'echo "@kxms:health-exit $code"; printf "%s\\n" "$answer" | sed "s/^/@kxms:health /"\n'
            f'[ "$code" = 0 ] || exit 0\n{listing}'
        )
        result = await ctx.runner.run(script, sudo=ctx.runner.sudo, timeout=60)
        lines = result.stdout.splitlines()
        code = [line.split()[-1] for line in lines if line.startswith("@kxms:health-exit ")]
        if code != ["0"]:
            prefix = "@kxms:health "
            answers = [line.removeprefix(prefix) for line in lines if line.startswith(prefix)]
            shown = "\n    ".join(answers or [result.stderr.strip() or "no answer"])
            raise CheckFailedError(
                ctx.host.name, self.name, f"not every member is healthy:\n    {shown}"
            )
        listed_out = "\n".join(line for line in lines if not line.startswith("@kxms:"))
        if not result.ok:
            raise CheckFailedError(
                ctx.host.name, self.name, f"etcdctl member list failed: {result.stderr.strip()}"
            )
        try:
            found = {
                f"{member.get('name', '')}={','.join(member.get('peerURLs', []))}"
                for member in json.loads(listed_out).get("members", [])
            }
        except (ValueError, AttributeError):
            raise CheckFailedError(
                ctx.host.name, self.name, f"unreadable member list: {listed_out[:200]}"
            ) from None
        wanted = set(self.members)
        if found != wanted:
            problems = []
            if wanted - found:
                problems.append(f"missing {', '.join(sorted(wanted - found))}")
            if found - wanted:
                problems.append(f"not in the etcd role group: {', '.join(sorted(found - wanted))}")
            raise CheckFailedError(
                ctx.host.name, self.name, f"the member list differs: {'; '.join(problems)}"
            )


@dataclass(frozen=True)
class ExternalEtcdReachable(Check):
    """Every external endpoint answers /health over TLS with the given CA and client
    certificate, asked from this host (the first master: where the API server will run)."""

    endpoints: tuple[str, ...]
    ca_file: str | None
    cert_file: str | None
    key_file: str | None
    name: str = "endpoints"

    description = "external etcd {endpoints} healthy over TLS"

    async def verify(self, ctx: Context) -> None:
        options = ["--silent", "--show-error", "--max-time", "5"]
        for flag, path in (
            ("--cacert", self.ca_file),
            ("--cert", self.cert_file),
            ("--key", self.key_file),
        ):
            if path is not None:
                options += [flag, path]
        failures = []
        for endpoint in self.endpoints:
            url = endpoint.rstrip("/") + "/health"
            command = shlex.join(["curl", *options, url])
            result = await ctx.runner.run(f"{command} 2>&1", sudo=ctx.runner.sudo, timeout=30)
            answer = " ".join(result.stdout.split())[:300]
            if result.exit_code == 127:
                raise CheckFailedError(
                    ctx.host.name, self.name, "curl is needed on this host to check etcd"
                )
            if not result.ok:
                failures.append(f"{endpoint}: {answer or f'curl exit {result.exit_code}'}")
                continue
            try:
                healthy = str(json.loads(result.stdout).get("health")) == "true"
            except (ValueError, AttributeError):
                healthy = False
            if not healthy:
                failures.append(f"{endpoint}: not healthy ({answer})")
        if failures:
            raise CheckFailedError(
                ctx.host.name,
                self.name,
                "external etcd: " + "; ".join(failures),
            )
