"""A fault in the middle of the control-plane phase, kubeadm mode (fleet tier).

The cluster of tests/kubeadm_cluster.py (3 masters, 2 workers that run the load balancer; the
kubeadm and kubelet doubles, real etcd, containerd and kubectl). Its first `create cluster` run
is the case itself, so the matrix's control-plane row costs no cluster build of its own beyond
the one it needs: when the third master's ``kubeadm join --control-plane`` begins, that master's
sshd stops and the sessions it serves end (the join's remote command dies with them). Then:

- the run fails within a bound, with an error for that master alone that says how the
  connection was lost, and its message names the host;
- the run is continued the way its message says (``--resume``, ``--break-lock`` when the lost
  host's lock stayed) and completes: every node registered, ``/readyz`` through the endpoint;
- a rerun changes nothing;
- nothing is left half-done (tests/killed_run.py's check: no staged temporary file, lock,
  pending restart or directory of the test's runs on any host), the victim's kubelet active
  and its control-plane manifests in place.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.event_log import events
from tests.killed_run import assert_nothing_half_done
from tests.kubeadm_cluster import Cluster, changed_counts, kubeadm_cluster
from tests.leasing import HostPool

pytestmark = pytest.mark.fleet

# From the fault to the end of the run: the lost sessions close their connections at once;
# the bound is for a heavily loaded machine (the run stops at the first failure).
FAIL_BOUND = 180.0
REACH_JOIN = 1500.0  # the run builds the cluster up to the victim's join first
HOST_LOST = r"connection|closed|lost|reset|refused|unreachable"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def cluster(
    fleet_pool: HostPool, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Cluster]:
    directory = tmp_path_factory.mktemp("control-plane-faults")
    async with kubeadm_cluster(fleet_pool, directory, __name__) as made:
        yield made


async def test_a_master_lost_mid_join_fails_alone_and_resume_finishes(cluster: Cluster) -> None:
    victim = cluster.hosts.names[2]  # the last master to join
    join = f"create-cluster/control-plane/join-{victim}"
    runs = cluster.work / "runs"
    run = await cluster.start("-o", "json")

    def join_begun() -> bool:
        return any(
            e["event"] == "started"
            and e.get("node", "").startswith(f"{join}/")
            and e.get("host") == victim
            for log in runs.glob("*.jsonl")
            for e in events(log)
        )

    deadline = time.monotonic() + REACH_JOIN
    while not join_begun():
        assert run.returncode is None, "the run ended before the victim's join"
        assert time.monotonic() < deadline, f"the run never reached {join}"
        await asyncio.sleep(0.2)
    injected = time.monotonic()
    # Stop sshd and end the sessions it serves (ssh.service keeps them otherwise).
    await cluster.hosts.run(victim, "systemctl stop ssh && loginctl terminate-user root")
    try:
        out, err = (text.decode() for text in await asyncio.wait_for(run.communicate(), FAIL_BOUND))
    finally:
        await cluster.hosts.run(victim, "systemctl start ssh")
    took = time.monotonic() - injected
    print(f"\nFAULT control-plane join, sshd lost: exit {run.returncode} after {took:.1f} s")
    print(err.strip()[-600:])
    assert run.returncode == 1, err + out
    document = json.loads(out)
    assert document["failed_hosts"] == [victim], document
    errors = " ".join(map(str, document["hosts"][victim]["errors"]))
    assert re.search(HOST_LOST, errors, re.IGNORECASE), errors
    for other in cluster.hosts.names:
        if other != victim:
            assert document["hosts"][other]["errors"] == [], document["hosts"][other]
    assert victim in err

    extra = ["--resume", "--break-lock"] if "--break-lock" in err else ["--resume"]
    code, out, err = await cluster.run("-o", "json", *extra)
    assert code == 0, err + out
    assert json.loads(out)["outcome"] == "succeeded"
    readyz = cluster.kubectl("get", "--raw", "/readyz")
    assert (readyz.returncode, readyz.stdout.strip()) == (0, "ok"), readyz.stderr
    nodes = json.loads(cluster.kubectl("get", "nodes", "-o", "json").stdout)["items"]
    assert sorted(n["metadata"]["name"] for n in nodes) == sorted(cluster.hosts.names)

    code, out, err = await cluster.run("-o", "json")
    assert code == 0, err + out
    assert set(changed_counts(json.loads(out)).values()) == {0}, json.loads(out)["hosts"]
    # No staged temporary file beside a placed one, no lock, no pending restart, no directory
    # of this test's runs (a host's /var shows this machine's, where other runs leave theirs).
    await assert_nothing_half_done(cluster.hosts.names, cluster.hosts.run, cluster.work)
    assert (await cluster.hosts.run(victim, "systemctl is-active kubelet")).strip() == "active"
    await cluster.hosts.run(
        victim,
        "test -s /etc/kubernetes/manifests/kube-apiserver.yaml -a -s /etc/kubernetes/kubelet.conf",
    )
