"""The state of each etcd member, read over TLS: ``kubexms etcd status``.

etcdctl runs ON the etcd hosts (each member is asked on its own host, with the healthcheck
client certificate kubexms placed there), so the control machine needs no etcdctl binary of
the hosts' architecture. A member whose host cannot be reached is asked from another member's
host; a member nobody can ask is a row with the reason, never the end of the answer.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubexms.config import Cluster
from kubexms.etcd._layout import (
    CA_CERT,
    ETCDCTL_BINARY,
    ETCDUTL_BINARY,
    HEALTHCHECK_CERT,
    HEALTHCHECK_KEY,
    EtcdMember,
)
from kubexms.etcd._layout import (
    members as etcd_members,
)
from kubexms.runner import Runner
from kubexms.runner._script import markers, quote
from kubexms.runtime import ClusterRuntime

DIAL_TIMEOUT = "2s"
COMMAND_TIMEOUT = "5s"
STATUS_TIMEOUT = 30.0


def etcdctl(arguments: str, endpoints: Sequence[str]) -> str:
    """Shell text running etcdctl (API v3) against ``endpoints`` with the healthcheck client
    certificate; ``arguments`` is shell text (quote data yourself)."""
    # ETCDCTL_* from an operator's environment (etcdctl.env) would clash with the flags:
    # etcdctl refuses --endpoints beside ETCDCTL_ENDPOINTS.
    return (
        "env -u ETCDCTL_ENDPOINTS -u ETCDCTL_CACERT -u ETCDCTL_CERT -u ETCDCTL_KEY "
        f"ETCDCTL_API=3 {ETCDCTL_BINARY} --endpoints={quote(','.join(endpoints))} "
        f"--cacert={CA_CERT} --cert={HEALTHCHECK_CERT} --key={HEALTHCHECK_KEY} "
        f"--dial-timeout={DIAL_TIMEOUT} --command-timeout={COMMAND_TIMEOUT} {arguments}"
    )


def snapshot_tool(arguments: str) -> str:
    """Shell text running ``etcdutl`` (etcd 3.5+) where the host has it, else
    ``etcdctl`` (3.4), for the offline snapshot commands (``snapshot status|restore``)."""
    return (
        f"if [ -x {ETCDUTL_BINARY} ]; then {ETCDUTL_BINARY} {arguments}; "
        f"else ETCDCTL_API=3 {ETCDCTL_BINARY} {arguments}; fi"
    )


@dataclass(frozen=True, slots=True)
class MemberStatus:
    """One member as the status command shows it; ``error`` says why a field is missing."""

    name: str
    endpoint: str
    healthy: bool
    asked_from: str | None = None
    version: str | None = None
    db_size: int | None = None
    member_id: int | None = None
    leader_id: int | None = None
    raft_index: int | None = None
    raft_term: int | None = None
    revision: int | None = None
    error: str | None = None

    @property
    def is_leader(self) -> bool:
        return self.member_id is not None and self.member_id == self.leader_id

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "endpoint": self.endpoint,
            "healthy": self.healthy,
            "leader": self.is_leader,
            "version": self.version,
            "dbSize": self.db_size,
            "memberId": None if self.member_id is None else f"{self.member_id:x}",
            "leaderId": None if self.leader_id is None else f"{self.leader_id:x}",
            "raftIndex": self.raft_index,
            "raftTerm": self.raft_term,
            "revision": self.revision,
            "askedFrom": self.asked_from,
            "error": self.error,
        }


def _status_script(endpoint: str) -> str:
    """Ask one endpoint for ``endpoint status`` and ``endpoint health`` at once (health may
    wait the whole command timeout when quorum is lost); each answer comes back base64'd
    with its exit code and stderr."""
    lines = [
        "w=$(mktemp -d /tmp/kubexms-etcd-status.XXXXXX) || exit 1",
        "trap 'rm -rf -- \"$w\"' EXIT",
        f'({etcdctl("endpoint status -w json", [endpoint])} >"$w/s.out" 2>"$w/s.err"; '
        'echo $? >"$w/s.rc") &',
        f'({etcdctl("endpoint health -w json", [endpoint])} >"$w/h.out" 2>"$w/h.err"; '
        'echo $? >"$w/h.rc") &',
        "wait",
        "for k in s h; do",
        '  echo "@kxms:$k $(cat "$w/$k.rc") $(base64 -w0 <"$w/$k.out") $(base64 -w0 <"$w/$k.err")"',
        "done",
    ]
    return "\n".join(lines)


def _decode(value: str) -> str:
    return base64.b64decode(value).decode(errors="replace") if value else ""


def _answer(stdout: str, word: str) -> tuple[int, str, str] | None:
    found = markers(stdout, word)
    if not found:
        return None
    parts = [*found[0].split(" "), "", ""][:3]
    return int(parts[0] or 1), _decode(parts[1]), _decode(parts[2])


def last_error_line(stderr: str) -> str:
    """The line of etcdctl's stderr that says what went wrong (not its JSON log chatter)."""
    plain = [line.strip() for line in stderr.splitlines() if line.strip()]
    readable = [line for line in plain if not line.startswith("{")]
    if readable:
        return readable[-1]
    if plain:
        try:
            return str(json.loads(plain[-1]).get("error") or plain[-1])
        except ValueError:
            return plain[-1]
    return "no answer"


def parse_status(member: EtcdMember, asked_from: str, stdout: str, exit_code: int) -> MemberStatus:
    """A MemberStatus from the status script's output (``exit_code``: the script's own)."""
    base = MemberStatus(member.name, member.client_url, healthy=False, asked_from=asked_from)
    status, health = _answer(stdout, "s"), _answer(stdout, "h")
    if status is None or health is None:
        return _with(base, error=f"the status script failed (exit {exit_code})")
    values: dict[str, Any] = {}
    errors: list[str] = []
    code, out, err = status
    try:
        (entry,) = json.loads(out) if code == 0 and out.strip() else (None,)
    except ValueError:
        entry = None
    if entry is None:
        errors.append(last_error_line(err))
    else:
        found = entry["Status"]
        values.update(
            version=found.get("version"),
            db_size=found.get("dbSize"),
            member_id=found.get("header", {}).get("member_id"),
            leader_id=found.get("leader"),
            raft_index=found.get("raftIndex"),
            raft_term=found.get("raftTerm"),
            revision=found.get("header", {}).get("revision"),
        )
    code, out, err = health
    healthy = False
    try:
        answers = json.loads(out) if out.strip() else []
        healthy = code == 0 and bool(answers) and all(a.get("health") for a in answers)
        for answer in answers:
            if answer.get("error") and answer["error"] not in errors:
                errors.append(str(answer["error"]))
    except ValueError:
        pass
    if not healthy and not errors:
        errors.append(last_error_line(err))
    return _with(
        base, healthy=healthy and entry is not None, error="; ".join(errors) or None, **values
    )


def _with(base: MemberStatus, **changes: Any) -> MemberStatus:
    values = {name: getattr(base, name) for name in MemberStatus.__slots__}
    values.update(changes)
    return MemberStatus(**values)


async def ask_member(runner: Runner, member: EtcdMember, *, asked_from: str) -> MemberStatus:
    """The status of ``member`` asked through ``runner`` (its own host or another's)."""
    try:
        result = await runner.script(
            _status_script(member.client_url), check=False, timeout=STATUS_TIMEOUT
        )
    except Exception as error:  # a lost connection is this member's row, not the answer
        return MemberStatus(
            member.name, member.client_url, healthy=False, asked_from=asked_from, error=str(error)
        )
    return parse_status(member, asked_from, result.stdout, result.exit_code)


async def cluster_status(
    runtime: ClusterRuntime,
    members: Sequence[EtcdMember] | None = None,
    unreachable: Mapping[str, str] | None = None,
) -> list[MemberStatus]:
    """Every member's status, in config order, asked concurrently.

    A member is asked on its own host; when that host is not in the runtime (unreachable),
    from the first reachable etcd host; with none, its row carries the connection error.
    """
    members = list(members if members is not None else etcd_members(runtime.config))
    down = dict(unreachable or {})
    down.update({name: str(error) for name, error in runtime.unreachable.items()})
    reachable = [m.name for m in members if m.name in runtime.inventory]

    async def one(member: EtcdMember) -> MemberStatus:
        via = member.name if member.name in runtime.inventory else None
        via = via or (reachable[0] if reachable else None)
        if via is None:
            reason = down.get(member.name, "no etcd host could be reached to ask")
            return MemberStatus(member.name, member.client_url, healthy=False, error=reason)
        status = await ask_member(runtime.inventory[via].runner, member, asked_from=via)
        if via != member.name and member.name in down and status.error:
            return _with(status, error=f"{status.error} (host: {down[member.name]})")
        return status

    return list(await asyncio.gather(*(one(member) for member in members)))


def etcd_hosts_only(cluster: Cluster, *roles: str) -> Cluster:
    """The cluster with only its etcd hosts (and those of ``roles``), for commands that need
    no other host: a status of a thousand-node cluster connects to its three etcd hosts, and a
    worker that is down is no concern of etcd's."""
    names = {host.name for role in ("etcd", *roles) for host in cluster.hosts_with_role(role)}
    hosts = [host for host in cluster.spec.hosts if host.name in names]
    return cluster.model_copy(update={"spec": cluster.spec.model_copy(update={"hosts": hosts})})


def unreachable_rows(cluster: Cluster, errors: Mapping[str, str]) -> list[MemberStatus]:
    """Rows for a cluster none of whose hosts could be reached."""
    return [
        MemberStatus(
            member.name,
            member.client_url,
            healthy=False,
            error=errors.get(member.name, "not reached"),
        )
        for member in etcd_members(cluster)
    ]


def leader_name(statuses: Sequence[MemberStatus]) -> str | None:
    """The name of the member the healthy members agree leads, if any."""
    names = {status.member_id: status.name for status in statuses if status.member_id}
    leaders = {status.leader_id for status in statuses if status.healthy and status.leader_id}
    if len(leaders) == 1:
        return names.get(next(iter(leaders)))
    return None
