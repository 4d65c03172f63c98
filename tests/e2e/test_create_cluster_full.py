"""`kubexms create cluster -f F` WITHOUT ``--only``: all twelve phases, in order, in one run, on
six systemd hosts (3 masters running etcd, 2 workers also running the load balancer for a
virtual IP, 1 registry host), kubeadm mode.

Real here: sshd, systemd, apt from offline .debs, Debian's etcd (3 members over TLS) and
containerd (in their release layouts), haproxy and keepalived, the CNCF distribution registry
with TLS and a login, skopeo pushing the images, the real kubectl. Doubles (tests/doubles,
pinned by sha256 in the artifact store like the real release files): kubeadm and the kubelet
(which runs the API-server double as a static pod, and, once calico-node's DaemonSet exists,
writes calico's conflist from its ConfigMap as install-cni would: tests/doubles/README.md).
The container images of the image list cannot be pulled here: each is a STAND-IN (one busybox
OCI image built from Debian's busybox-static, tests/fixtures/artifacts/busybox_image.py) put
into the store under the image list's name, so the registry phase pushes them for real and a
node pulls one through containerd from the private registry. One run, a rerun that changes
nothing, and a real kubectl with ``<workDir>/kubeconfig`` sees five Ready nodes through the
endpoint. The cluster is the session's shared one (tests/kubeadm_shared.py): this module's run
is its first (``fresh``) run, recorded there; the rerun is the one after every stage of it.
"""

from __future__ import annotations

import base64
import http.client
import json
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from kubexms.artifacts import ImageRef, cluster_images
from kubexms.config import load_config
from kubexms.pipelines import PHASES
from tests.doubles import real_kubectl
from tests.kubeadm_cluster import (
    REGISTRY_PASSWORD,
    REGISTRY_USER,
    VERSION,
    Cluster,
    changed_counts,
)
from tests.kubeadm_shared import SharedCluster
from tests.leasing import HostLease

pytestmark = pytest.mark.fleet


@dataclass
class Full:
    shared: SharedCluster
    private: str

    @property
    def cluster(self) -> Cluster:
        return self.shared.cluster

    @property
    def stand_ins(self) -> dict[ImageRef, str]:
        return self.shared.stand_ins

    @property
    def hosts(self) -> HostLease:
        return self.cluster.hosts

    @property
    def directory(self) -> Path:
        return self.cluster.directory

    @property
    def file(self) -> Path:
        return self.cluster.file

    @property
    def vip(self) -> str:
        return self.cluster.vip

    @property
    def work(self) -> Path:
        return self.cluster.work

    def kubectl(self, *args: str) -> subprocess.CompletedProcess[str]:
        """The REAL kubectl on this machine with the user's kubeconfig (its server: the
        endpoint, the virtual IP)."""
        return subprocess.run(
            [str(real_kubectl(VERSION)), f"--kubeconfig={self.work / 'kubeconfig'}",
             "--request-timeout=20s", *args],
            capture_output=True, text=True, timeout=120, check=False,
            env={"PATH": "/usr/bin:/bin", "HOME": str(self.directory)},
        )  # fmt: skip

    def registry_digest(self, ref: ImageRef) -> str:
        """The manifest digest the private registry serves for ``ref`` (under it), asked over
        TLS trusting the registry CA kubexms made, with the login."""
        context = ssl.create_default_context(cafile=str(self.work / "pki" / "registry" / "ca.crt"))
        login = base64.b64encode(f"{REGISTRY_USER}:{REGISTRY_PASSWORD}".encode()).decode()
        host, _, port = self.private.rpartition(":")
        connection = http.client.HTTPSConnection(host, int(port), context=context, timeout=30)
        try:
            connection.request(
                "HEAD",
                f"/v2/{ref.repository}/manifests/{ref.tag}",
                headers={
                    "Authorization": f"Basic {login}",
                    "Accept": "application/vnd.oci.image.manifest.v1+json",
                },
            )
            answer = connection.getresponse()
            answer.read()
        finally:
            connection.close()
        assert answer.status == 200, (ref, answer.status, answer.reason)
        return str(answer.getheader("Docker-Content-Digest"))


@pytest.fixture
def full(kubeadm_shared: SharedCluster) -> Full:
    assert kubeadm_shared.cluster.private is not None
    return Full(kubeadm_shared, kubeadm_shared.cluster.private)


async def test_all_twelve_phases_run_in_one_run(full: Full) -> None:
    fresh = await full.shared.fresh()
    code, document, err = fresh.outcome.code, fresh.outcome.document, fresh.outcome.err
    assert code == 0, err + json.dumps(document)[-4000:]
    assert document["outcome"] == "succeeded", document
    # Without --only every phase ran, each with its steps (nodes "create-cluster/<phase>/...").
    log = fresh.log
    ran = {e["node"].split("/")[1] for e in log if e["event"] == "node-finished"}
    assert ran == set(PHASES), sorted(ran)
    assert log[-1]["counts"].keys() <= {"changed", "unchanged"}, log[-1]

    # Five Ready nodes through the endpoint, seen by the real kubectl with the user's kubeconfig.
    done = full.kubectl("get", "nodes", "-o", "json")
    assert done.returncode == 0, done.stderr
    nodes = json.loads(done.stdout)["items"]
    assert sorted(n["metadata"]["name"] for n in nodes) == sorted(full.hosts.names[:5])
    for node in nodes:
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "True", (node["metadata"]["name"], ready)
    server = json.loads(full.kubectl("config", "view", "-o", "json").stdout)
    assert server["clusters"][0]["cluster"]["server"] == f"https://{full.vip}:6443"

    # The pod network: calico-node applied; each node's conflist written from its ConfigMap.
    daemonset = full.kubectl("get", "daemonset", "calico-node", "-n", "kube-system", "-o", "json")
    assert daemonset.returncode == 0, daemonset.stderr
    for name in full.hosts.names[:5]:
        conflist = json.loads(await full.hosts.run(name, "cat /etc/cni/net.d/10-calico.conflist"))
        assert conflist["plugins"][0]["nodename"] == name
    assert full.kubectl("get", "configmap", "settings", "-n", "demo").returncode == 0

    # The registry holds every stand-in, as built; a worker pulls one through containerd,
    # trusting the registry CA from certs.d, with the login.
    assert len(full.stand_ins) >= 8, full.stand_ins  # pause, control plane, CoreDNS, calico
    for ref, digest in full.stand_ins.items():
        assert full.registry_digest(ref) == digest, ref
    cluster = load_config(full.file)
    pause = next(i for i in cluster_images(cluster) if i.key == "pause").ref.under(full.private)
    worker = full.hosts.names[4]
    await full.hosts.run(
        worker,
        "ctr -n k8s.io images pull --hosts-dir /etc/containerd/certs.d "
        f"--user {REGISTRY_USER}:{REGISTRY_PASSWORD} {pause.name}",
    )
    assert pause.name in await full.hosts.run(worker, "ctr -n k8s.io images ls -q")


async def test_a_rerun_changes_nothing(full: Full) -> None:
    rerun = await full.shared.final_rerun()
    assert rerun.code == 0, rerun.err + rerun.out[-4000:]
    assert set(changed_counts(rerun.document).values()) == {0}, rerun.document["hosts"]
    done = full.kubectl("get", "nodes", "-o", "json")
    assert len(json.loads(done.stdout)["items"]) == 5
