"""`kubexms create cluster` in kubeadm mode with stacked etcd (``etcd.type: kubeadm``) on 3
masters + 2 workers (fleet tier): kubeadm's etcd static pods (Debian's etcd run by the kubelet
double with the manifest's flags), the second and third masters added as etcd members by their
``kubeadm join``. A run killed (SIGKILL) once the second master's join has started its kubelet
is refused on ``--resume`` alone (its lock stayed: the message says so) and finishes with
``--resume --break-lock``: that join is finished by the kubeadm join phases it had not run
(its etcd member, mark-control-plane), leaving nothing half-done; a rerun changes nothing.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.event_log import events
from tests.killed_run import assert_nothing_half_done, started
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


async def _kill_once_the_kubelet_started(
    process: asyncio.subprocess.Process, cluster: Cluster, host: str
) -> None:
    """SIGKILL the run once ``host``'s ``kubeadm join --control-plane`` has started its
    kubelet (kubeadm then waits for the TLS bootstrap; the etcd member and the mark follow),
    then that kubeadm on the host: the join is cut off there (a remote command the killed run
    left would otherwise go on and finish it). Only that host's processes are seen there (a
    PID namespace per host): the kubeadm found is the one this run started."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + RUN_TIMEOUT
    join = f"create-cluster/control-plane/join-{host}/"
    while True:
        if process.returncode is not None:
            _, err = await process.communicate()
            pytest.fail(
                f"the run ended ({process.returncode}) before {host}'s kubelet started: "
                + err.decode()
            )
        if loop.time() > deadline:
            process.kill()
            pytest.fail(f"{host}'s join never started its kubelet within {RUN_TIMEOUT:g}s")
        if started(cluster.work, join):
            _, out, _ = await cluster.hosts.exec(host, "systemctl is-active kubelet")
            if out.strip() == "active":
                break
        await asyncio.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    await process.communicate()
    await cluster.hosts.run(
        host, "for p in $(pgrep -f '/usr/local/bin/[k]ubeadm join'); do kill -KILL $p; done; true"
    )


async def test_a_run_killed_half_way_finishes_with_resume(cluster: Cluster) -> None:
    # Killed (SIGKILL: no clean-up of its own) once the second master's join has started its
    # kubelet, and that join with it: its lock and its other remote commands stay behind.
    second = cluster.hosts.names[1]
    await _kill_once_the_kubelet_started(await cluster.start("-o", "json"), cluster, second)
    code, out, err = await cluster.run("-o", "json", "--resume")
    assert code != 0, out
    refused = json.loads(out)["error"]
    assert refused["kind"] == "lock", refused
    assert "that process is gone, so the lock is stale" in refused["message"]
    assert "--break-lock" in refused["message"]

    code, out, err = await cluster.run("-o", "json", "--resume", "--break-lock")
    assert code == 0, err + out
    # That join was finished by the kubeadm join phases it had not run, not run again whole.
    log = sorted((cluster.work / "runs").glob("*.jsonl"))[-1]  # <time>-...: the resume's
    joined = [
        e
        for e in events(log)
        if e["event"] == "changed"
        and e.get("node", "").startswith(f"create-cluster/control-plane/join-{second}/")
    ]
    assert len(joined) == 1, joined
    assert joined[0]["detail"].startswith("finished the cut-off join: "), joined[0]
    assert "kubeadm join phase control-plane-join mark-control-plane" in joined[0]["detail"]
    await assert_nothing_half_done(cluster.hosts.names, cluster.hosts.run, cluster.work)
    left = await cluster.hosts.run(
        second, "ls /etc/kubernetes/bootstrap-kubelet.conf 2>/dev/null; true"
    )
    assert left == "", "the bootstrap token's kubeconfig was left"
    readyz = cluster.kubectl("get", "--raw", "/readyz")
    assert (readyz.returncode, readyz.stdout.strip()) == (0, "ok"), readyz.stderr
    nodes = json.loads(cluster.kubectl("get", "nodes", "-o", "json").stdout)["items"]
    assert sorted(n["metadata"]["name"] for n in nodes) == sorted(cluster.hosts.names)
    marked = {
        n["metadata"]["name"]
        for n in nodes
        if "node-role.kubernetes.io/control-plane" in n["metadata"]["labels"]
        and any(
            t["key"] == "node-role.kubernetes.io/control-plane" for t in n["spec"].get("taints", [])
        )
    }
    assert marked == set(cluster.hosts.names[:3])
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
