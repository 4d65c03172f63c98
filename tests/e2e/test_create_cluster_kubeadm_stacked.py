"""`kubexms create cluster` in kubeadm mode with stacked etcd (``etcd.type: kubeadm``) on 3
masters + 2 workers (fleet tier): kubeadm's etcd static pods (Debian's etcd run by the kubelet
double with the manifest's flags), the second and third masters added as etcd members by their
``kubeadm join``. A run killed (SIGKILL) after the first master's init, before the joins, is
refused on ``--resume`` alone (its lock stayed: the message says so) and finishes with
``--resume --break-lock``, leaving nothing half-done; a rerun changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.killed_run import assert_nothing_half_done, kill_when_started
from tests.kubeadm_cluster import RUN_TIMEOUT, Cluster, changed_counts, kubeadm_cluster
from tests.leasing import HostPool

pytestmark = pytest.mark.fleet


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def cluster(
    fleet_pool: HostPool, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Cluster]:
    directory = tmp_path_factory.mktemp("create-kubeadm-stacked")
    async with kubeadm_cluster(fleet_pool, directory, __name__, etcd_type="kubeadm") as made:
        yield made


async def test_a_run_killed_half_way_finishes_with_resume(cluster: Cluster) -> None:
    # Killed (SIGKILL: no clean-up of its own) once the first master is initialised, while it
    # waits for the API server through the endpoint, before any join: its lock and its remote
    # commands stay behind. (A join cut off after its kubelet started is refused with the way
    # out, `kubeadm reset -f` there: kubeadm cannot continue it; a unit test shows that.)
    process = await cluster.start("-o", "json")
    waiting = "create-cluster/control-plane/api-ready/"
    await kill_when_started(process, cluster.work, waiting, RUN_TIMEOUT)
    code, out, err = await cluster.run("-o", "json", "--resume")
    assert code != 0, out
    refused = json.loads(out)["error"]
    assert refused["kind"] == "lock", refused
    assert "that process is gone, so the lock is stale" in refused["message"]
    assert "--break-lock" in refused["message"]

    code, out, err = await cluster.run("-o", "json", "--resume", "--break-lock")
    assert code == 0, err + out
    await assert_nothing_half_done(cluster.hosts.names, cluster.hosts.run, cluster.work)
    readyz = cluster.kubectl("get", "--raw", "/readyz")
    assert (readyz.returncode, readyz.stdout.strip()) == (0, "ok"), readyz.stderr
    nodes = json.loads(cluster.kubectl("get", "nodes", "-o", "json").stdout)["items"]
    assert sorted(n["metadata"]["name"] for n in nodes) == sorted(cluster.hosts.names)
    # Three etcd members, one per master, each run by its kubelet from kubeadm's manifest.
    for name in cluster.hosts.names[:3]:
        manifest = await cluster.hosts.run(name, "cat /etc/kubernetes/manifests/etcd.yaml")
        assert f"--name={name}" in manifest
    listed = await cluster.hosts.run(
        cluster.hosts.names[0],
        "ETCDCTL_API=3 etcdctl --endpoints=https://127.0.0.1:2379 "
        "--cacert=/etc/kubernetes/pki/etcd/ca.crt "
        "--cert=/etc/kubernetes/pki/apiserver-etcd-client.crt "
        "--key=/etc/kubernetes/pki/apiserver-etcd-client.key member list -w json",
    )
    assert len(json.loads(listed)["members"]) == 3


async def test_a_rerun_changes_nothing(cluster: Cluster) -> None:
    code, out, err = await cluster.run("-o", "json")
    assert code == 0, err + out
    assert set(changed_counts(json.loads(out)).values()) == {0}, json.loads(out)["hosts"]
