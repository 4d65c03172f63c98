"""`kubexms create cluster` in kubeadm mode on 3 masters + 2 workers (fleet tier), etcd run by
kubexms (``etcd.type: kubexm``) on the masters.

Through the real etcd (Debian's, in etcd's release layout), containerd, the load balancer
(haproxy and keepalived on the two workers, a virtual IP as the endpoint) and the kubeadm and
kubelet doubles (tests/doubles/kubeadm_double), which run the API-server double as a static
pod. The cluster is the session's shared one (tests/kubeadm_shared.py: all twelve phases, a
registry host). A worker kubeadm once set up for another cluster (reset, then given another
cluster's kubelet.conf) is refused, and ``--resume`` finishes once it is cleaned (the shared
cluster's ``foreign_worker`` stage, recorded there); a real kubectl gets ``/readyz`` through the
endpoint and lists the five nodes; a rerun changes nothing; ``kubexms render`` holds what the
runs placed, byte for byte (the token aside). tests/e2e/test_create_cluster_kubeadm_stacked.py
does stacked etcd.
"""

from __future__ import annotations

import asyncio
import sys

import pytest

from tests.kubeadm_cluster import Cluster, changed_counts
from tests.kubeadm_shared import SharedCluster

pytestmark = pytest.mark.fleet


@pytest.fixture
def cluster(kubeadm_shared: SharedCluster) -> Cluster:
    return kubeadm_shared.cluster


async def test_another_clusters_host_is_refused_and_resume_finishes(
    kubeadm_shared: SharedCluster,
) -> None:
    stage = await kubeadm_shared.foreign_worker()
    victim = stage.victim
    refused = stage.refused
    assert refused.code == 1, refused.err + refused.out
    result = refused.document
    assert result["failed_hosts"] == [victim], result["errors"]
    message = " ".join(result["hosts"][victim]["errors"])
    assert "kubeadm set this host up for another cluster" in message, message
    assert "Refused; nothing was changed" in message
    assert stage.after == stage.before

    assert stage.resumed.code == 0, stage.resumed.err + stage.resumed.out
    readyz = stage.health.readyz
    assert readyz[:2] == (0, "ok"), readyz
    assert stage.health.nodes == sorted(kubeadm_shared.names)
    assert stage.health.masters == sorted(kubeadm_shared.names[:3])
    cluster = kubeadm_shared.cluster
    token = (cluster.work / "kubernetes" / "bootstrap-token").read_text().strip()
    for name in kubeadm_shared.names:
        modes = await cluster.hosts.run(name, "stat -c '%a %n' /etc/kubernetes/kubeadm/*.yaml")
        assert all(line.startswith("600 ") for line in modes.splitlines()), modes
    for name in cluster.hosts.names:
        journal = await cluster.hosts.run(name, "journalctl --no-pager | tail -n 2000")
        assert token.split(".")[1] not in journal


async def test_a_rerun_changes_nothing(kubeadm_shared: SharedCluster) -> None:
    rerun = await kubeadm_shared.final_rerun()
    assert rerun.code == 0, rerun.err + rerun.out
    assert set(changed_counts(rerun.document).values()) == {0}, rerun.document["hosts"]


async def test_render_holds_what_the_run_placed(
    kubeadm_shared: SharedCluster, cluster: Cluster
) -> None:
    # Any stage of the shared cluster leaves it whole; the first run must have made it.
    assert (await kubeadm_shared.fresh()).outcome.code == 0
    out = cluster.directory / "render"
    render = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kubexms", "render", "-f", str(cluster.file), "--out", str(out),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await asyncio.wait_for(render.communicate(), 300)
    assert render.returncode == 0, err.decode()
    token = (cluster.work / "kubernetes" / "bootstrap-token").read_text().strip()
    compared: set[str] = set()
    for name in cluster.hosts.names:
        steps = (out / f"{name}.steps").read_text().splitlines()
        blocks = {line.split()[1] for line in steps if "blocks only:" in line}
        for path in (out / name).rglob("*"):
            where = f"/{path.relative_to(out / name)}"
            if not path.is_file() or where in blocks:
                continue
            rendered = path.read_text()
            if rendered.startswith("<kubexms: secret"):
                continue
            code, on_host, _ = await cluster.hosts.exec(name, f"cat {where}")
            # The render covers every phase, and every phase ran.
            assert code == 0, f"{name}:{where} is not on the host"
            # The token is the one secret a kubeadm configuration holds: shown as the marker.
            on_host = on_host.replace(token, "<kubexms: secret, not rendered>")
            assert on_host == rendered, f"{name}:{where}"
            compared.add(f"{name}:{where}")
    first, worker = cluster.hosts.names[0], cluster.hosts.names[4]
    assert any(c.startswith(f"{first}:/etc/kubexms/cni/") for c in compared), sorted(compared)
    for wanted in (
        f"{first}:/etc/kubernetes/kubeadm/init.yaml",
        f"{worker}:/etc/kubernetes/kubeadm/join.yaml",
        f"{first}:/etc/systemd/system/kubelet.service.d/10-kubeadm.conf",
        f"{first}:/etc/kubernetes/pki/apiserver.crt",
        f"{first}:/etc/etcd/etcd.env",
    ):
        assert wanted in compared, wanted
