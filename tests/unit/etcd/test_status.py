"""Reading etcd members: etcdctl's JSON answers (real 3.4.23 output) become status rows."""

from __future__ import annotations

import base64
import json

from kubexms.config import parse_config
from kubexms.etcd import EtcdMember
from kubexms.etcd._status import (
    MemberStatus,
    etcd_hosts_only,
    etcdctl,
    last_error_line,
    leader_name,
    parse_status,
    snapshot_tool,
)
from tests.unit.config.sample import base, to_yaml

MEMBER = EtcdMember("node1", "10.213.0.11")
STATUS = (
    '[{"Endpoint":"https://10.213.0.11:2379","Status":{"header":{"cluster_id":324952591200643719,'
    '"member_id":3319814642761637952,"revision":42,"raft_term":2},"version":"3.4.23",'
    '"dbSize":20480,"leader":3319814642761637952,"raftIndex":57,"raftTerm":2,'
    '"raftAppliedIndex":57,"dbSizeInUse":16384}}]'
)
HEALTH = '[{"endpoint":"https://10.213.0.11:2379","health":true,"took":"3.2ms"}]'
DOWN_STDERR = (
    '{"level":"warn","ts":"2026-12-01T11:04:25.873Z","msg":"retrying of unary invoker failed"}\n'
    "Failed to get the status of endpoint https://10.213.0.11:2379 (context deadline exceeded)\n"
)
DOWN_HEALTH = (
    '[{"endpoint":"https://10.213.0.11:2379","health":false,"took":"5.0s",'
    '"error":"context deadline exceeded"}]'
)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _script_output(status: tuple[int, str, str], health: tuple[int, str, str]) -> str:
    return "\n".join(
        f"@kxms:{word} {code} {_b64(out)} {_b64(err)}"
        for word, (code, out, err) in (("s", status), ("h", health))
    )


def test_a_healthy_leader_has_every_field() -> None:
    row = parse_status(MEMBER, "node1", _script_output((0, STATUS, ""), (0, HEALTH, "")), 0)
    assert row.healthy
    assert row.is_leader
    assert row.error is None
    assert (row.version, row.db_size, row.raft_index, row.raft_term, row.revision) == (
        "3.4.23",
        20480,
        57,
        2,
        42,
    )
    document = row.as_dict()
    assert document["memberId"] == f"{3319814642761637952:x}"
    assert json.loads(json.dumps(document)) == document


def test_a_stopped_member_is_an_unhealthy_row_with_the_reason() -> None:
    output = _script_output((1, "", DOWN_STDERR), (1, DOWN_HEALTH, "Error: unhealthy cluster\n"))
    row = parse_status(MEMBER, "node1", output, 0)
    assert not row.healthy
    assert row.version is None
    assert row.raft_index is None
    assert row.error is not None
    assert "Failed to get the status of endpoint" in row.error
    assert "context deadline exceeded" in row.error


def test_a_script_that_did_not_answer_is_a_row_too() -> None:
    row = parse_status(MEMBER, "node2", "sh: 1: mktemp: not found", 127)
    assert not row.healthy
    assert row.asked_from == "node2"
    assert row.error == "the status script failed (exit 127)"


def test_last_error_line_skips_json_log_chatter() -> None:
    assert last_error_line(DOWN_STDERR).startswith("Failed to get the status")
    assert last_error_line('{"level":"warn","error":"x509: bad"}') == "x509: bad"
    assert last_error_line("") == "no answer"


def test_leader_name_needs_the_healthy_members_to_agree() -> None:
    def row(name: str, member: int, leader: int, healthy: bool = True) -> MemberStatus:
        return MemberStatus(name, "e", healthy, member_id=member, leader_id=leader)

    assert leader_name([row("a", 1, 2), row("b", 2, 2), row("c", 3, 2)]) == "b"
    assert leader_name([row("a", 1, 1), row("b", 2, 2)]) is None
    assert leader_name([row("a", 1, 2, healthy=False)]) is None


def test_etcdctl_uses_the_healthcheck_client_over_tls_and_quotes_endpoints() -> None:
    command = etcdctl("endpoint health", ["https://10.0.0.1:2379", "https://[fd00::1]:2379"])
    assert "--cacert=/etc/kubernetes/pki/etcd/ca.crt" in command
    assert "--cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt" in command
    assert "--endpoints='https://10.0.0.1:2379,https://[fd00::1]:2379'" in command
    assert "ETCDCTL_API=3 /usr/local/bin/etcdctl " in command
    assert command.startswith("env -u ETCDCTL_ENDPOINTS ")
    assert "/usr/local/bin/etcdutl snapshot status" in snapshot_tool("snapshot status x")


def test_etcd_commands_connect_to_the_etcd_hosts_only() -> None:
    cluster = parse_config(to_yaml(base()))  # etcd on node1; node2 and node3 are workers
    data = cluster.model_dump()
    trimmed = etcd_hosts_only(cluster)
    assert [host.name for host in trimmed.resolved_hosts()] == ["node1"]
    assert [host.name for host in trimmed.hosts_with_role("etcd")] == ["node1"]
    assert trimmed.work_dir == cluster.work_dir
    assert cluster.model_dump() == data  # the original is left as it was
    data = base()
    data["spec"]["roleGroups"]["master"] = ["node2"]
    masters_too = etcd_hosts_only(parse_config(to_yaml(data)), "master")
    assert [host.name for host in masters_too.resolved_hosts()] == ["node1", "node2"]
