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
node pulls one through containerd from the private registry. One run, one rerun that changes
nothing, and a real kubectl with ``<workDir>/kubeconfig`` sees five Ready nodes through the
endpoint. The hosts and the cluster file come from tests/kubeadm_cluster.py (the kubeadm e2es'
fixture, here with a registry host).
"""

from __future__ import annotations

import base64
import http.client
import json
import ssl
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from kubexms.artifacts import ArtifactStore, ImageRef, ImageStore, cluster_images
from kubexms.config import load_config
from kubexms.pipelines import PHASES
from tests.doubles import double_script, real_kubectl
from tests.fixtures.artifacts.busybox_image import build_busybox_image
from tests.fixtures.artifacts.runtime_release import ReleaseFile
from tests.integration.test_cni_addons_fleet import CALICO, DEMO_MANIFEST, HELM, sha256, tar_gz
from tests.kubeadm_cluster import (
    REGISTRY_PASSWORD,
    REGISTRY_USER,
    VERSION,
    Cluster,
    changed_counts,
    kubeadm_cluster,
)
from tests.leasing import HostLease, HostPool
from tests.unit.cni.upstream import FIXTURES

pytestmark = pytest.mark.fleet


@dataclass
class Full:
    cluster: Cluster
    private: str
    stand_ins: dict[ImageRef, str]

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

    async def run(self, *extra: str) -> tuple[int, dict[str, Any], str]:
        code, out, err = await self.cluster.run("-o", "json", *extra)
        try:
            document = json.loads(out)
        except ValueError:
            document = {"raw": out}
        return code, document, err

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

    def newest_log(self) -> list[dict[str, Any]]:
        path = max((self.work / "runs").glob("*.jsonl"), key=lambda p: p.stat().st_mtime)
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def calico_release(directory: Path) -> ReleaseFile:
    """Calico's source archive holding the upstream manifest of the BOM's version."""
    archive = tar_gz(
        directory / f"calico-{CALICO}.tar.gz",
        {
            f"calico-{CALICO[1:]}/manifests/calico.yaml": (
                (FIXTURES / f"calico-{CALICO}.yaml").read_bytes(),
                0o644,
            )
        },
    )
    return ReleaseFile("calico-manifests", archive, CALICO, sha256(archive))


CALICOCTL_STAND_IN = """\
#!/bin/sh
# calicoctl STAND-IN (kubexms tests): the BOM's calicoctl is fetched and placed on the masters,
# but nothing kubexms runs calls it; this file only takes its place, and refuses to act.
echo "calicoctl: kubexms test stand-in, not the real calicoctl" >&2
exit 1
"""


def tool_releases(directory: Path) -> list[ReleaseFile]:
    """What the BOM fetches beside the doubles: Calico's source archive holding the upstream
    manifest of the BOM's version, the helm double (as helm's release archive; no add-on here
    uses helm) and the calicoctl stand-in (nothing runs it)."""
    helm = tar_gz(
        directory / f"helm-{HELM}-linux-amd64.tar.gz",
        {"linux-amd64/helm": (double_script("helm").read_bytes(), 0o755)},
    )
    calicoctl = directory / "calicoctl-linux-amd64"
    calicoctl.write_text(CALICOCTL_STAND_IN)
    calicoctl.chmod(0o755)
    return [
        calico_release(directory),
        ReleaseFile("helm", helm, HELM, sha256(helm)),
        ReleaseFile("calicoctl", calicoctl, CALICO, sha256(calicoctl)),
    ]


def stand_in_images(file: Path, directory: Path) -> dict[ImageRef, str]:
    """Every image the cluster's image list names, as the busybox STAND-IN image, in the store
    the run uses (the registry phase pushes what the store holds); their manifest digests."""
    cluster = load_config(file)
    images = ImageStore(ArtifactStore.for_cluster(cluster))
    digests = {}
    for index, image in enumerate(cluster_images(cluster)):
        (directory / f"stand-in-{index}").mkdir(parents=True)
        built = build_busybox_image(directory / f"stand-in-{index}", image.ref.name)
        images.add(image.ref, built.path, image.roles)
        digests[image.ref] = built.digest
    return digests


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def full(
    fleet_pool: HostPool, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Full]:
    directory = tmp_path_factory.mktemp("create-full")
    manifest = directory / "demo.yaml"
    manifest.write_text(DEMO_MANIFEST)
    (directory / "releases").mkdir()

    def shape(document: dict[str, Any]) -> None:
        spec = document["spec"]
        document["metadata"]["name"] = "full-test"
        spec["network"] = {"plugin": "calico"}
        spec["addons"] = [{"name": "demo", "type": "manifest", "manifests": [str(manifest)]}]

    async with kubeadm_cluster(
        fleet_pool, directory, __name__, registry_host=True, only=None,
        releases=tool_releases(directory / "releases"), edit=shape,
    ) as made:  # fmt: skip
        assert made.private is not None
        stand_ins = stand_in_images(made.file, directory / "images")
        yield Full(made, made.private, stand_ins)


async def test_all_twelve_phases_run_in_one_run(full: Full) -> None:
    code, document, err = await full.run()
    assert code == 0, err + json.dumps(document)[-4000:]
    assert document["outcome"] == "succeeded", document
    # Without --only every phase ran, each with its steps (nodes "create-cluster/<phase>/...").
    log = full.newest_log()
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
    code, document, err = await full.run()
    assert code == 0, err + json.dumps(document)[-4000:]
    assert set(changed_counts(document).values()) == {0}, document["hosts"]
    done = full.kubectl("get", "nodes", "-o", "json")
    assert len(json.loads(done.stdout)["items"]) == 5
