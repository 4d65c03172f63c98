"""`kubexms create cluster --only etcd` on three systemd hosts: a real 3-member TLS etcd.

etcd is Debian's 3.4.23 packed in etcd's release layout (tests/fixtures/artifacts/etcd_release),
pinned by sha256 through ``spec.artifacts.overrides.etcd`` and fetched from a file:// URL, so
the version check's warning path is the one exercised. OS packages come the air-gapped way
(``--download-packages``). The tests run in order and build on each other: a first creation, a
rerun that changes nothing, a stopped member that the other two cover for and a rerun heals, a
changed setting rolled one member at a time, a foreign data dir refused and left alone, and the
same etcd used as ``external`` by a second cluster file.
"""

from __future__ import annotations

import itertools
import json
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
import yaml

from tests.etcd_cluster import Etcd, changed_counts, etcd_cluster
from tests.event_log import events
from tests.leasing import HostPool

pytestmark = pytest.mark.fleet

WARNING = "etcd v3.4.23 is older than supported (etcd 3.5.x for Kubernetes 1.31-1.34)"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def etcd(
    fleet_pool: HostPool, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Etcd]:
    async with etcd_cluster(fleet_pool, tmp_path_factory.mktemp("create-etcd"), __name__) as made:
        yield made


async def test_first_creation_makes_a_healthy_tls_cluster(etcd: Etcd) -> None:
    code, out, err = await etcd.run("-o", "json")
    assert code == 0, err + out
    assert WARNING in err
    document = json.loads(out)
    assert document["outcome"] == "succeeded"
    assert all(changed_counts(document)[host] > 0 for host in etcd.hosts)

    listed = etcd.client("member", "list", "-w", "json")
    assert listed.returncode == 0, listed.stderr
    members = json.loads(listed.stdout)["members"]
    assert sorted(m["name"] for m in members) == sorted(etcd.hosts)
    assert etcd.client("put", "/kubexms/test", "hello").returncode == 0
    got = etcd.client("get", "/kubexms/test", "--print-value-only", hosts=etcd.hosts[2:])
    assert got.stdout.strip() == "hello"

    # No plaintext client port: http:// on 2379 gets nowhere, and metrics are loopback only.
    plain = subprocess.run(  # noqa: ASYNC221 - a short local etcdctl
        [
            str(etcd.etcdctl),
            f"--endpoints=http://{etcd.addresses[etcd.hosts[0]]}:2379",
            "--dial-timeout=3s",
            "--command-timeout=5s",
            "get",
            "/kubexms/test",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"ETCDCTL_API": "3"},
        check=False,
    )
    assert plain.returncode != 0
    for host in etcd.hosts:
        listening = await etcd.on(host, "ss -Hltn")
        assert f"{etcd.addresses[host]}:2379" in listening
        assert f"{etcd.addresses[host]}:2380" in listening
        assert "127.0.0.1:2381" in listening
        assert f"{etcd.addresses[host]}:2381" not in listening
        modes = await etcd.on(
            host,
            "stat -c '%n %a' /var/lib/etcd /etc/kubernetes/pki/etcd/server.key "
            "/etc/kubernetes/pki/etcd/peer.key /etc/kubernetes/pki/etcd/server.crt",
        )
        assert modes.split() == [
            "/var/lib/etcd",
            "700",
            "/etc/kubernetes/pki/etcd/server.key",
            "600",
            "/etc/kubernetes/pki/etcd/peer.key",
            "600",
            "/etc/kubernetes/pki/etcd/server.crt",
            "644",
        ]
        # An operator on the host: etcdctl with no flags at all.
        on_host = await etcd.on(host, "bash -lc 'etcdctl member list'")
        assert sorted(line.split(", ")[2] for line in on_host.splitlines()) == sorted(etcd.hosts)
        assert "etcd Version: 3.4.23" in await etcd.on(host, "/usr/local/bin/etcd --version")
        await etcd.on(host, "[ -x /usr/local/bin/etcdctl ] && [ ! -e /usr/local/bin/README.md ]")


async def test_a_rerun_changes_nothing(etcd: Etcd) -> None:
    code, out, err = await etcd.run("-o", "json")
    assert code == 0, err
    document = json.loads(out)
    assert set(changed_counts(document).values()) == {0}, document["hosts"]


async def test_a_stopped_member_is_covered_for_and_a_rerun_starts_it(etcd: Etcd) -> None:
    victim = etcd.hosts[2]
    await etcd.on(victim, "systemctl stop etcd")
    others = etcd.hosts[:2]
    assert etcd.client("put", "/kubexms/while-down", "yes", hosts=others).returncode == 0
    got = etcd.client("get", "/kubexms/while-down", "--print-value-only", hosts=others)
    assert got.stdout.strip() == "yes"

    code, out, err = await etcd.run("-o", "json")
    assert code == 0, err
    counts = changed_counts(json.loads(out))
    assert counts[victim] >= 1, counts
    assert counts[etcd.hosts[0]] == counts[etcd.hosts[1]] == 0, counts
    assert (await etcd.on(victim, "systemctl is-active etcd")).strip() == "active"
    got = etcd.client("get", "/kubexms/while-down", "--print-value-only", hosts=[victim])
    assert got.stdout.strip() == "yes"


async def test_a_changed_setting_restarts_one_member_at_a_time(etcd: Etcd) -> None:
    document = yaml.safe_load(etcd.cluster.read_text())
    document["spec"]["etcd"]["snapshotCount"] = 20000
    etcd.cluster.write_text(yaml.safe_dump(document, sort_keys=False))
    pids = {
        host: await etcd.on(host, "systemctl show -p MainPID --value etcd") for host in etcd.hosts
    }

    code, out, err = await etcd.run("-o", "json")
    assert code == 0, err
    log = events(Path(json.loads(out)["log"]))
    windows = {}
    for entry in log:
        node = entry.get("node", "")
        if "/etcd/restart-" not in node:
            continue
        if entry["event"] == "started":
            windows[entry["host"]] = [entry["time"], None]
        elif entry["event"] == "changed":
            windows[entry["host"]][1] = entry["time"]
    assert sorted(windows) == sorted(etcd.hosts)
    spans = sorted(windows.values())
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end is not None, spans
        assert end <= start, spans  # never two members down together
    # The service steps wrote the new setting without restarting anything themselves.
    services = [e for e in log if "/etcd/service-" in e.get("node", "") and e["event"] == "changed"]
    assert services
    assert all("restart" not in e.get("detail", "") for e in services)
    for host in etcd.hosts:
        config = await etcd.on(host, "cat /etc/etcd/etcd.env")
        assert "ETCD_SNAPSHOT_COUNT=20000" in config
        assert await etcd.on(host, "systemctl show -p MainPID --value etcd") != pids[host]
    assert etcd.client("endpoint", "health").returncode == 0

    code, out, _ = await etcd.run("-o", "json")
    assert code == 0
    assert set(changed_counts(json.loads(out)).values()) == {0}


FOREIGN = (
    "timeout 20 /usr/local/bin/etcd --name other --data-dir /var/lib/etcd-foreign "
    "--listen-client-urls http://127.0.0.1:23790 --advertise-client-urls http://127.0.0.1:23790 "
    "--listen-peer-urls http://127.0.0.1:23800 --initial-advertise-peer-urls "
    "http://127.0.0.1:23800 --initial-cluster other=http://127.0.0.1:23800 "
    "--initial-cluster-token someone-else >/tmp/foreign.log 2>&1 & "
    "for i in $(seq 100); do [ -e /var/lib/etcd-foreign/member/wal ] && break; sleep 0.1; done; "
    "sleep 1; kill %1; wait"
)
DIGEST = "find /var/lib/etcd-foreign -type f -exec sha256sum {} + | sort"


async def test_a_foreign_data_dir_is_refused_and_left_untouched(etcd: Etcd) -> None:
    host = etcd.hosts[0]
    await etcd.on(host, FOREIGN)
    before = await etcd.on(host, DIGEST)
    assert "/member/wal/" in before
    for other in etcd.hosts[1:]:
        await etcd.on(other, "mkdir -p /var/lib/etcd-foreign")
    document = yaml.safe_load(etcd.cluster.read_text())
    document["spec"]["etcd"]["dataDir"] = "/var/lib/etcd-foreign"
    foreign = etcd.cluster.with_name("foreign.yaml")
    foreign.write_text(yaml.safe_dump(document, sort_keys=False))

    code, out, _ = await etcd.run("-o", "json", cluster=foreign)
    assert code == 1
    result = json.loads(out)
    assert host in result["failed_hosts"]
    message = " ".join(result["hosts"][host]["errors"])
    assert "holds the data of another etcd cluster" in message, message
    assert "left untouched" in message
    assert await etcd.on(host, DIGEST) == before
    # Nothing of the running cluster was touched either.
    for name in etcd.hosts:
        assert "ETCD_DATA_DIR=/var/lib/etcd\n" in await etcd.on(name, "cat /etc/etcd/etcd.env")
    assert etcd.client("endpoint", "health").returncode == 0


async def test_the_same_etcd_as_external_for_a_second_cluster(etcd: Etcd) -> None:
    pki = etcd.work / "pki"
    document = yaml.safe_load(etcd.cluster.read_text())
    master = etcd.hosts[0]
    document["metadata"]["name"] = "external-user"
    document["spec"]["hosts"] = [h for h in document["spec"]["hosts"] if h["name"] == master]
    document["spec"]["roleGroups"] = {"master": [master], "worker": []}
    document["spec"]["global"]["workDir"] = str(etcd.work.parent / "work-external")
    document["spec"]["etcd"] = {
        "type": "external",
        "external": {
            "endpoints": etcd.endpoints().split(","),
            "caFile": str(pki / "etcd" / "ca.crt"),
            "certFile": str(pki / "apiserver-etcd-client.crt"),
            "keyFile": str(pki / "apiserver-etcd-client.key"),
        },
    }
    document["spec"].pop("artifacts", None)
    external = etcd.cluster.with_name("external.yaml")
    external.write_text(yaml.safe_dump(document, sort_keys=False))

    code, out, err = await etcd.run("-o", "json", cluster=external)
    assert code == 0, err + out
    placed = await etcd.on(
        master,
        "sha256sum /etc/kubernetes/pki/etcd/ca.crt /etc/kubernetes/pki/apiserver-etcd-client.key;"
        " stat -c %a /etc/kubernetes/pki/apiserver-etcd-client.key",
    )
    assert placed.split()[-1] == "600"

    # One endpoint that answers nothing: a clear error naming it.
    document["spec"]["etcd"]["external"]["endpoints"].append("https://127.0.0.1:23999")
    external.write_text(yaml.safe_dump(document, sort_keys=False))
    code, out, _ = await etcd.run("-o", "json", cluster=external)
    assert code == 1
    errors = " ".join(json.loads(out)["hosts"][master]["errors"])
    assert "https://127.0.0.1:23999" in errors
    assert etcd.endpoints().split(",")[0] + ":" not in errors
