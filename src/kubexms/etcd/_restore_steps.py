"""The steps of ``kubexms etcd restore``, each idempotent so that a rerun finishes the job.

A restore is identified by its ``restore_id`` (a UTC time stamp, kept on the control machine
until the restore finishes, so a rerun reuses it). On each host, "this data dir is already the
restore ``restore_id``" is a marker file beside the data dir (``<dataDir>.kubexms-restore.json``)
recording the id and the inode of the restored directory: the restore is built in a temporary
directory, the marker written, and the directory renamed into place, so a data dir either is
the old one, absent, or a complete restore that the marker names. Old data dirs are renamed to
``<dataDir>.kubexms-<restore_id>`` and never deleted.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubexms.engine import CheckFailedError, Step
from kubexms.etcd._status import etcdctl, last_error_line, snapshot_tool
from kubexms.runner import Change
from kubexms.runner._script import markers, quote
from kubexms.runtime import Context

STAGE_DIR = "/var/lib/kubexms/etcd-restore"
API_SERVER_UNIT = "kube-apiserver"
"""The hook for the API server: stopped before etcd and started after it, on the masters,
where the unit exists (the control-plane phase installs it; until then there is none)."""
HEALTH_TIMEOUT = 120.0


def staged_path(sha256: str) -> str:
    """Where the snapshot waits on a host (named by its content, so a rerun finds it)."""
    return f"{STAGE_DIR}/{sha256}.db"


def aside_path(data_dir: str, restore_id: str) -> str:
    return f"{data_dir}.kubexms-{restore_id}"


def marker_path(data_dir: str) -> str:
    return f"{data_dir}.kubexms-restore.json"


def restored_test(data_dir: str, restore_id: str) -> str:
    """Shell text: succeeds when ``data_dir`` is the complete restore ``restore_id``."""
    wanted = f'"restore": "{restore_id}"'
    return (
        f"{{ m={quote(marker_path(data_dir))}; d={quote(data_dir)}; "
        f'[ -f "$m" ] && [ -d "$d" ] && grep -q {quote(wanted)} "$m" && '
        '[ "$(stat -c %i -- "$d")" = "$(sed -n \'s/.*"inode": *\\([0-9]*\\).*/\\1/p\' "$m")" ]; }'
    )


async def is_restored(ctx: Context, data_dir: str, restore_id: str) -> bool:
    result = await ctx.runner.script(restored_test(data_dir, restore_id), check=False)
    return result.ok


def aside_name_script(data_dir: str, restore_id: str, *, move: bool = False) -> str:
    """Shell text printing (``@kxms:aside``) the name ``data_dir`` is kept under: the first
    not yet taken; nothing when there is no data dir. ``move``: also move it there."""
    moving = '\n  mv -T -- "$d" "$t"' if move else ""
    return f"""d={quote(data_dir)}; a={quote(aside_path(data_dir, restore_id))}
if [ -e "$d" ]; then
  t="$a"; n=1
  while [ -e "$t" ]; do n=$((n+1)); t="$a-$n"; done{moving}
  echo "@kxms:aside $t"
fi"""


def move_aside_script(data_dir: str, restore_id: str) -> str:
    """Shell text moving ``data_dir`` aside under a name not yet taken (never deleting)."""
    return aside_name_script(data_dir, restore_id, move=True)


@dataclass(frozen=True)
class StageSnapshot(Step):
    """The snapshot file is on the host, checked by sha256."""

    source: str
    sha256: str

    name = "stage-snapshot"
    description = "snapshot {sha256} staged on the host"
    uploads = True

    async def precheck(self, ctx: Context) -> bool | Change:
        if await ctx.runner.files.sha256(staged_path(self.sha256)) == self.sha256:
            return True
        return Change(True, "stage snapshot", f"copy {self.source} to {staged_path(self.sha256)}")

    async def run(self, ctx: Context) -> Change | None:
        await ctx.runner.files.mkdir(STAGE_DIR, mode=0o700)
        change = await ctx.runner.files.upload(
            Path(self.source), staged_path(self.sha256), mode=0o600
        )
        found = await ctx.runner.files.sha256(staged_path(self.sha256))
        if found != self.sha256:
            raise CheckFailedError(
                ctx.host.name, self.name, f"the staged snapshot's sha256 is {found}"
            )
        return change


@dataclass(frozen=True)
class VerifyStagedSnapshot(Step):
    """etcd reads the staged snapshot (``snapshot status``) before anything is stopped.

    Where the snapshot is staged (always, in a real run: staging comes first), the precheck
    is the check itself; a dry run, which stages nothing, says the check would be made."""

    sha256: str

    name = "verify-snapshot"
    description = "etcd can read the staged snapshot"

    async def precheck(self, ctx: Context) -> bool | Change:
        if not await ctx.runner.files.exists(staged_path(self.sha256)):
            return Change(True, "verify snapshot", "etcd reads the staged snapshot")
        await self.verify(ctx)
        return True

    async def run(self, ctx: Context) -> Change | None:
        await self.verify(ctx)
        return Change(False, "verify snapshot")

    async def verify(self, ctx: Context) -> None:
        path = quote(staged_path(self.sha256))
        result = await ctx.runner.script(
            snapshot_tool(f"snapshot status {path} -w json"), check=False
        )
        if not result.ok:
            raise CheckFailedError(
                ctx.host.name,
                self.name,
                f"the snapshot is not readable: {last_error_line(result.stderr)}",
            )


@dataclass(frozen=True)
class StopUnit(Step):
    """A systemd unit is stopped before the data dir is replaced: skipped where it is not
    running, or where the data dir is already this restore's (a rerun must not stop a member
    it has already restored and started)."""

    unit: str
    data_dir: str
    restore_id: str

    name = "stop"
    description = "{unit} stopped"

    async def precheck(self, ctx: Context) -> bool | Change:
        if await is_restored(ctx, self.data_dir, self.restore_id):
            return True
        if not await ctx.runner.services.is_active(self.unit):
            return True
        return Change(True, f"stop {self.unit}", f"stop {self.unit} (it is running)")

    async def run(self, ctx: Context) -> Change | None:
        return await ctx.runner.services.stop(self.unit)


@dataclass(frozen=True)
class StartUnit(Step):
    """A systemd unit is running again, where it is installed and enabled.

    With ``data_dir`` and ``restore_id`` (etcd's own start), a data dir that is not yet the
    restore's means the unit will have been stopped by then: a dry run says it starts."""

    unit: str
    only_if_enabled: bool = False
    data_dir: str = ""
    restore_id: str = ""

    name = "start"
    description = "{unit} started"

    async def precheck(self, ctx: Context) -> bool | Change:
        if self.only_if_enabled and not await ctx.runner.services.is_enabled(self.unit):
            return True
        start = Change(True, f"start {self.unit}", f"start {self.unit}")
        if self.data_dir and not await is_restored(ctx, self.data_dir, self.restore_id):
            return start  # stopped for the restore before this step's turn
        return True if await ctx.runner.services.is_active(self.unit) else start

    async def run(self, ctx: Context) -> Change | None:
        return await ctx.runner.services.start(self.unit)


@dataclass(frozen=True)
class MoveDataDirAside(Step):
    """The current data dir is renamed ``<dataDir>.kubexms-<restore_id>`` (kept, never
    deleted), unless it is already this restore's or there is none."""

    data_dir: str
    restore_id: str

    name = "move-data-dir-aside"
    description = "{data_dir} moved aside to {data_dir}.kubexms-{restore_id}"

    async def precheck(self, ctx: Context) -> bool | Change:
        if await is_restored(ctx, self.data_dir, self.restore_id):
            return True
        result = await ctx.runner.script(aside_name_script(self.data_dir, self.restore_id))
        aside = (markers(result.stdout, "aside") or [""])[0]
        if not aside:
            return True  # no data dir to keep
        return Change(True, f"move {self.data_dir} aside", f"move {self.data_dir} to {aside}")

    async def run(self, ctx: Context) -> Change | None:
        result = await ctx.runner.script(
            "set -e\n" + move_aside_script(self.data_dir, self.restore_id)
        )
        aside = (markers(result.stdout, "aside") or [""])[0]
        return Change(bool(aside), f"move {self.data_dir} aside", aside)


@dataclass(frozen=True)
class RestoreDataDir(Step):
    """The data dir is rebuilt from the staged snapshot with this member's name, peer URL,
    the cluster's initial-cluster and token (``etcdutl`` where present, else ``etcdctl``)."""

    data_dir: str
    restore_id: str
    sha256: str
    initial_cluster: str
    token: str

    name = "restore-data-dir"
    description = "{data_dir} restored from snapshot {sha256} into {initial_cluster}"

    async def precheck(self, ctx: Context) -> bool | Change:
        if await is_restored(ctx, self.data_dir, self.restore_id):
            return True
        member = ctx.host.name
        return Change(
            True,
            f"restore {self.data_dir}",
            f"restore {staged_path(self.sha256)} into {self.data_dir} as member {member} "
            f"(peer URL {self.peer_url(member)}) of {self.initial_cluster}, token {self.token}",
        )

    def peer_url(self, member: str) -> str:
        """This member's peer URL, as ``initial_cluster`` names it."""
        for entry in self.initial_cluster.split(","):
            name, _, url = entry.partition("=")
            if name == member:
                return url
        raise KeyError(f"{member} is not in the initial cluster {self.initial_cluster}")

    def script(self, member: str) -> str:
        building = f"{self.data_dir}.kubexms-restoring"
        restore = snapshot_tool(
            f"snapshot restore {quote(staged_path(self.sha256))} --name {quote(member)} "
            f"--initial-cluster {quote(self.initial_cluster)} "
            f"--initial-cluster-token {quote(self.token)} "
            f'--initial-advertise-peer-urls {quote(self.peer_url(member))} --data-dir "$b"'
        )
        record = '{"restore": "%s", "snapshot": "%s", "member": "%s", "inode": %s}\\n'
        return f"""set -e
b={quote(building)}; m={quote(marker_path(self.data_dir))}
rm -rf -- "$b"
# The restored dir belongs to whoever owned the one it replaces.
owner=root:root; d={quote(self.data_dir)}; a={quote(aside_path(self.data_dir, self.restore_id))}
if [ -d "$d" ]; then owner=$(stat -c %U:%G -- "$d")
elif [ -d "$a" ]; then owner=$(stat -c %U:%G -- "$a"); fi
{move_aside_script(self.data_dir, self.restore_id)}
( umask 077; mkdir -p -- "$(dirname -- "$b")"; {restore} ) >&2
chmod 700 -- "$b"
chown -R -- "$owner" "$b"
printf '{record}' {quote(self.restore_id)} {quote(self.sha256)} {quote(member)} \
  "$(stat -c %i -- "$b")" > "$m.tmp"
mv -f -- "$m.tmp" "$m"
mv -T -- "$b" {quote(self.data_dir)}
echo "@kxms:restored"
"""

    async def run(self, ctx: Context) -> Change | None:
        await ctx.runner.script(self.script(ctx.host.name), timeout=600)
        return Change(True, f"restore {self.data_dir}", f"member {ctx.host.name}")


@dataclass(frozen=True)
class WaitForClusterHealth(Step):
    """Every member answers healthy over TLS; reports the cluster's revision."""

    endpoints: tuple[str, ...]
    timeout_seconds: float = HEALTH_TIMEOUT

    name = "wait-healthy"
    description = "every etcd member healthy"
    timeout = HEALTH_TIMEOUT + 30

    async def precheck(self, ctx: Context) -> Change:
        # A wait reads only; it always runs, and changes nothing.
        return Change(True, "wait", f"wait until {', '.join(self.endpoints)} are healthy")

    async def run(self, ctx: Context) -> Change | None:
        health = etcdctl("endpoint health", self.endpoints)
        status = etcdctl("endpoint status -w json", self.endpoints)
        script = f"""i=0
until out=$({health} 2>&1); do
  i=$((i+1))
  if [ $i -ge {int(self.timeout_seconds)} ]; then
    echo "@kxms:err $(printf '%s' "$out" | base64 -w0)"; exit 1
  fi
  sleep 1
done
echo "@kxms:status $({status} 2>/dev/null | tr -d '\\n')"
"""
        result = await ctx.runner.script(script, timeout=self.timeout_seconds + 20, check=False)
        if not result.ok:
            raw = (markers(result.stdout, "err") or [""])[0]
            detail = base64.b64decode(raw).decode(errors="replace") if raw else result.stderr
            raise CheckFailedError(
                ctx.host.name,
                self.name,
                f"etcd was not healthy within {self.timeout_seconds:g}s: {last_error_line(detail)}",
            )
        revisions = sorted(
            {
                entry["Status"]["header"]["revision"]
                for line in markers(result.stdout, "status")
                for entry in _json_list(line)
            }
        )
        detail = f"revision {', '.join(map(str, revisions))}" if revisions else ""
        return Change(False, "etcd healthy", detail)


def _json_list(text: str) -> list[dict[str, Any]]:
    try:
        found = json.loads(text)
    except ValueError:
        return []
    return [entry for entry in found if isinstance(entry, dict)] if isinstance(found, list) else []


@dataclass(frozen=True)
class RemoveStagedSnapshot(Step):
    """The staged copy of the snapshot is removed once the restore is done."""

    sha256: str

    name = "remove-staged-snapshot"
    description = "staged snapshot removed"

    async def precheck(self, ctx: Context) -> bool:
        return not await ctx.runner.files.exists(staged_path(self.sha256))

    async def run(self, ctx: Context) -> Change | None:
        return await ctx.runner.files.remove(staged_path(self.sha256))
