"""A fault in the middle of the control-plane phase, kubeadm mode (fleet tier).

The session's shared kubeadm cluster (tests/kubeadm_shared.py: 3 masters, 2 workers that run the
load balancer, a registry host; the kubeadm and kubelet doubles, real etcd, containerd and
kubectl), so the matrix's control-plane row builds no cluster of its own: its
``master_lost_mid_join`` stage resets the third master as ``kubeadm reset -f`` does, starts a
run, and when that master's ``kubeadm join --control-plane`` begins, stops its sshd and ends the
sessions it serves (the join's remote command dies with them). Then:

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

import pytest

from tests.killed_run import assert_nothing_half_done
from tests.kubeadm_cluster import changed_counts
from tests.kubeadm_shared import FAIL_BOUND, HOST_LOST, SharedCluster

pytestmark = pytest.mark.fleet


async def test_a_master_lost_mid_join_fails_alone_and_resume_finishes(
    kubeadm_shared: SharedCluster,
) -> None:
    stage = await kubeadm_shared.master_lost_mid_join()
    victim, faulted = stage.victim, stage.faulted
    assert stage.took < FAIL_BOUND
    assert faulted.code == 1, faulted.err + faulted.out
    document = faulted.document
    assert document["failed_hosts"] == [victim], document
    errors = " ".join(map(str, document["hosts"][victim]["errors"]))
    assert HOST_LOST.search(errors), errors
    for other in kubeadm_shared.cluster.hosts.names:
        if other != victim:
            assert document["hosts"][other]["errors"] == [], document["hosts"][other]
    assert victim in faulted.err

    resumed = stage.resumed
    assert resumed.code == 0, resumed.err + resumed.out
    assert resumed.document["outcome"] == "succeeded"
    assert stage.health.readyz[:2] == (0, "ok"), stage.health.readyz
    assert stage.health.nodes == sorted(kubeadm_shared.names)

    rerun = await kubeadm_shared.final_rerun()
    assert rerun.code == 0, rerun.err + rerun.out
    assert set(changed_counts(rerun.document).values()) == {0}, rerun.document["hosts"]
    # No staged temporary file beside a placed one, no lock, no pending restart, no directory
    # of this cluster's runs (a host's /var shows this machine's, where other runs leave theirs).
    hosts = kubeadm_shared.cluster.hosts
    await assert_nothing_half_done(hosts.names, hosts.run, kubeadm_shared.cluster.work)
    assert (await hosts.run(victim, "systemctl is-active kubelet")).strip() == "active"
    await hosts.run(
        victim,
        "test -s /etc/kubernetes/manifests/kube-apiserver.yaml -a -s /etc/kubernetes/kubelet.conf",
    )
