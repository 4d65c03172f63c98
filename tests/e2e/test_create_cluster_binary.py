"""``kubexms create cluster`` in binary mode (``kubernetes.type: kubexm``), all twelve phases
(no ``--only``), on five systemd hosts: 3 masters (also the kubexm-run etcd members) and 2
workers, with the real etcd (Debian's, in etcd's release layout), the real containerd and runc
(Debian's), and the internal load balancer (Debian's haproxy on each worker). The OS packages
of the ``os`` and ``loadbalancer`` phases are downloaded on this machine
(``--download-packages``) and installed offline: each host gets only what it lacks (not
``usrmerge``, whose installer refuses the sandbox hosts' separately mounted /usr).

The Kubernetes binaries are doubles (tests/doubles), placed by kubexms from the artifact store
like the real release files; kubectl is the REAL one. A real kubectl with ``<workDir>/kubeconfig``
then gets ``/readyz`` through the endpoint (from a worker: the endpoint's name resolves there to
the local haproxy), and a second run changes nothing.

The pod network is calico (its upstream manifest from the store; the kubelet double writes its
conflist once calico-node's DaemonSet exists, as install-cni would), the ``addons`` phase applies
binary mode's CoreDNS Deployment and a helm add-on (a local stand-in chart, through the helm
double), whose release status the summary reports.

The first run is killed (SIGKILL) half way through the control-plane phase and finished with
``--resume --break-lock``, leaving nothing half-done on the hosts. Last, a renewed API server
certificate (made again by the pki phase) restarts kube-apiserver on every master, and only it.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from kubexms.pipelines import PHASES
from kubexms.sandbox import Fleet
from tests.doubles import artifact_overrides, build_double, kubectl_release, real_kubectl
from tests.doubles.control_plane.build import build_control_plane_double
from tests.etcd_cluster import changed_counts
from tests.fixtures.artifacts.etcd_release import EtcdReleaseUnavailableError, build_etcd_release
from tests.fixtures.artifacts.runtime_release import (
    RuntimeReleaseUnavailableError,
    build_runtime_releases,
)
from tests.integration.test_cni_addons_fleet import chart, overrides
from tests.killed_run import assert_nothing_half_done, kill_when_started
from tests.kubeadm_shared import tool_releases
from tests.leasing import PACKAGES_INSTALLED, HostPool

pytestmark = pytest.mark.fleet

VERSION = "v1.32.0"
DOMAIN = "api.binary.kubexms.test"
RUN_TIMEOUT = 2400.0
SERVICES = {
    "master": ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet",
               "kube-proxy", "etcd", "containerd"),
    "worker": ("kubelet", "kube-proxy", "containerd", "kubexms-lb"),
}  # fmt: skip
CLEAN_UP = (
    "systemctl disable --now kube-apiserver kube-controller-manager kube-scheduler kubelet "
    "kube-proxy etcd containerd kubexms-lb 2>/dev/null; "
    "rm -rf /etc/systemd/system/kube-*.service /etc/systemd/system/kubelet.service "
    "/etc/systemd/system/etcd.service /etc/systemd/system/containerd.service "
    "/etc/systemd/system/kubexms-lb.service /etc/kubernetes /etc/etcd /var/lib/etcd "
    "/var/lib/kubelet /var/lib/kube-proxy /usr/local/bin/kube* /usr/local/bin/etcd* "
    "/etc/containerd /var/lib/kubexms/restart-pending /etc/cni /etc/kubexms /var/lib/helm-double "
    "/usr/local/bin/helm /usr/local/bin/calicoctl; systemctl daemon-reload"
)


@dataclass
class Cluster:
    fleet: Fleet
    masters: list[str]
    workers: list[str]
    cluster: Path
    work: Path
    debs: Path
    kubectl: Path

    async def start(self, *extra: str) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "kubexms", "create", "cluster", "-f", str(self.cluster),
            "--download-packages", "--packages-dir", str(self.debs), *extra,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip

    async def run(self, *extra: str) -> tuple[int, str, str]:
        process = await self.start(*extra)
        out, err = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT)
        assert process.returncode is not None
        return process.returncode, out.decode(), err.decode()

    async def put(self, host: str, path: str, data: bytes, mode: int) -> None:
        """A file on ``host`` (hosts have their own /tmp: the bytes go over stdin)."""
        command = (
            f"umask 077; cat > {path}.new && chmod {mode:o} {path}.new && mv {path}.new {path}"
        )
        code, _, err = await self.fleet.host_exec(host, command, stdin=data)
        assert code == 0, f"{host}: writing {path}: {err}"

    async def on(self, host: str, command: str) -> str:
        code, out, err = await self.fleet.host_exec(host, command)
        assert code == 0, f"{host}: {command!r} exited {code}: {err}{out}"
        return out


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def made(
    fleet_pool: HostPool, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Cluster]:
    directory = tmp_path_factory.mktemp("create-binary")
    try:
        etcd = build_etcd_release(directory)
        (directory / "runtime").mkdir()
        runtime = build_runtime_releases(directory / "runtime")
    except (EtcdReleaseUnavailableError, RuntimeReleaseUnavailableError) as error:
        pytest.fail(f"cannot build the release files: {error}", pytrace=False)
    releases = directory / "releases"
    files = [
        build_double("kube-apiserver", VERSION, releases),
        *(build_control_plane_double(name, VERSION, releases)
          for name in ("kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy")),
        kubectl_release(VERSION, releases),
    ]  # fmt: skip
    tools = tool_releases(releases)  # calico's manifest, the helm double, calicoctl's stand-in
    demo_chart = chart(directory, "demo", "0.1.0")
    kubectl = real_kubectl(VERSION)
    with fleet_pool.lease(5, init="systemd", holder=__name__, prefer=PACKAGES_INSTALLED) as leased:
        names = leased.names

        def shape(document: dict[str, Any]) -> None:
            spec = document["spec"]
            document["metadata"]["name"] = "binary-e2e"
            spec["roleGroups"] = {"master": names[:3], "etcd": names[:3], "worker": names[3:]}
            spec["global"]["workDir"] = str(directory / "work")
            spec["etcd"] = {"version": etcd.version}
            spec["kubernetes"] = {
                "type": "kubexm",
                "version": VERSION,
                "containerRuntime": {"version": runtime.containerd.version},
            }
            spec["controlPlaneEndpoint"] = {
                "domain": DOMAIN,
                "port": 6443,
                "loadBalancer": {"type": "internal", "kind": "haproxy"},
            }
            spec["artifacts"] = {
                "overrides": {
                    "etcd": {"url": f"file://{etcd.path}", "sha256": {"amd64": etcd.sha256}},
                    **runtime.overrides(),
                    **artifact_overrides(*files),
                    **overrides(tools),
                }
            }
            spec["network"] = {"plugin": "calico"}
            spec["addons"] = [
                {"name": "demo", "type": "helm", "chart": str(demo_chart), "namespace": "demo"}
            ]

        cluster = leased.cluster_file(directory, edit=shape, name="cluster.yaml")
        try:
            yield Cluster(
                leased.fleet, names[:3], names[3:], cluster, directory / "work",
                directory / "debs", kubectl,
            )  # fmt: skip
        finally:
            for name in names:
                await leased.fleet.host_exec(name, CLEAN_UP)


async def test_a_run_killed_in_the_control_plane_finishes_with_resume(made: Cluster) -> None:
    # Killed (SIGKILL) while the masters' kube-apiserver services are being set up: its lock
    # and remote commands stay; --resume --break-lock stops those and finishes the run.
    process = await made.start("-o", "json")
    apiservers = "create-cluster/control-plane/apiserver-"
    await kill_when_started(process, made.work, apiservers, RUN_TIMEOUT, after=1)
    code, out, err = await made.run("-o", "json", "--resume", "--break-lock")
    assert code == 0, err + out
    assert json.loads(out)["outcome"] == "succeeded"
    await assert_nothing_half_done(made.masters + made.workers, made.on, made.work)
    for role, hosts in (("master", made.masters), ("worker", made.workers)):
        for host in hosts:
            for service in SERVICES[role]:
                state = await made.on(host, f"systemctl is-active {service}")
                assert state.strip() == "active", (host, service)
            version = await made.on(host, "/usr/local/bin/kubelet --version")
            assert version.strip() == f"Kubernetes {VERSION} (kubexms test double)"
    for host in made.masters:
        modes = await made.on(
            host,
            "stat -c '%n %a' /etc/kubernetes/encryption-config.yaml /etc/kubernetes/admin.conf",
        )
        assert modes.split() == ["/etc/kubernetes/encryption-config.yaml", "600",
                                 "/etc/kubernetes/admin.conf", "600"]  # fmt: skip
    stored = made.work / "kubernetes" / "encryption-config.yaml"
    assert stored.stat().st_mode & 0o777 == 0o600


async def test_a_real_kubectl_gets_readyz_through_the_endpoint(made: Cluster) -> None:
    kubeconfig = made.work / "kubeconfig"
    assert f"server: https://{DOMAIN}:6443" in kubeconfig.read_text()
    # On a worker, where the endpoint's name resolves to the local haproxy: the real kubectl
    # and the user's kubeconfig, unchanged, copied there.
    worker = made.workers[0]
    await made.put(worker, "/root/kubectl", made.kubectl.read_bytes(), 0o755)
    await made.put(worker, "/root/kubeconfig", kubeconfig.read_bytes(), 0o600)
    kubectl = "/root/kubectl --kubeconfig=/root/kubeconfig"
    ready = await made.on(worker, f"{kubectl} get --raw /readyz")
    assert ready.strip() == "ok"
    listed = await made.on(worker, f"{kubectl} get nodes -o json")
    nodes = json.loads(listed)["items"]
    assert sorted(node["metadata"]["name"] for node in nodes) == sorted(made.masters + made.workers)
    for node in nodes:  # masters registered tainted, workers not
        taints = [taint["key"] for taint in node.get("spec", {}).get("taints", [])]
        tainted = node["metadata"]["name"] in made.masters
        assert ("node-role.kubernetes.io/control-plane" in taints) == tainted, node["metadata"]
    binding = json.loads(
        await made.on(worker, f"{kubectl} get clusterrolebinding kubeadm:cluster-admins -o json")
    )
    assert binding["roleRef"]["name"] == "cluster-admin"
    info = json.loads(
        await made.on(worker, f"{kubectl} get configmap cluster-info -n kube-public -o json")
    )
    assert f"server: https://{DOMAIN}:6443" in info["data"]["kubeconfig"]


async def test_the_pod_network_dns_and_addons(made: Cluster) -> None:
    # Each node's conflist, written by its kubelet from calico's ConfigMap, so nodes are Ready.
    for host in made.masters + made.workers:
        conflist = json.loads(await made.on(host, "cat /etc/cni/net.d/10-calico.conflist"))
        assert conflist["plugins"][0]["nodename"] == host
    worker = made.workers[0]
    await made.put(worker, "/root/kubectl", made.kubectl.read_bytes(), 0o755)
    await made.put(worker, "/root/kubeconfig", (made.work / "kubeconfig").read_bytes(), 0o600)
    kubectl = "/root/kubectl --kubeconfig=/root/kubeconfig"
    for node in json.loads(await made.on(worker, f"{kubectl} get nodes -o json"))["items"]:
        ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "True", (node["metadata"]["name"], ready)
    for kind, name in (("daemonset", "calico-node"), ("deployment", "coredns")):
        found = json.loads(
            await made.on(worker, f"{kubectl} -n kube-system get {kind} {name} -o json")
        )
        assert found["metadata"]["annotations"]["kubexms.io/applied-sha256"], (kind, name)
    secrets = await made.on(worker, f"{kubectl} -n demo get secrets -l owner=helm -o name")
    assert secrets.split() == ["secret/sh.helm.release.v1.demo.v1"]


async def test_a_rerun_changes_nothing(made: Cluster) -> None:
    code, out, err = await made.run("-o", "json")
    assert code == 0, err + out
    document = json.loads(out)
    assert set(changed_counts(document).values()) == {0}, document["hosts"]
    # every phase's steps were visited (and found done), the add-on's release reported (its
    # status read back by the precheck)
    path = max((made.work / "runs").glob("*.jsonl"), key=lambda p: p.stat().st_mtime)
    log = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    ran = {e["node"].split("/")[1] for e in log if e["event"] == "node-finished"}
    assert ran == set(PHASES) - {"registry"}, sorted(ran)  # no registry host: nothing to do
    notes = document["hosts"][made.masters[0]]["notes"]
    assert notes == {
        "create-cluster/addons/addon-demo/helm": "demo deployed, revision 1, chart demo-0.1.0"
    }


async def _main_pids(made: Cluster, unit: str) -> dict[str, str]:
    return {
        host: (await made.on(host, f"systemctl show -p MainPID --value {unit}")).strip()
        for host in made.masters
    }


async def test_a_renewed_certificate_restarts_the_service_that_reads_it(made: Cluster) -> None:
    apiservers = await _main_pids(made, "kube-apiserver")
    schedulers = await _main_pids(made, "kube-scheduler")
    # Renewed: the pki phase makes the missing pair again; the run places it on the masters.
    for name in ("apiserver.crt", "apiserver.key"):
        (made.work / "pki" / name).unlink()
    code, out, err = await made.run("-o", "json")
    assert code == 0, err + out
    renewed = x509.load_pem_x509_certificate((made.work / "pki" / "apiserver.crt").read_bytes())
    wanted = renewed.fingerprint(hashes.SHA256()).hex(":").upper()
    for host in made.masters:
        served = await made.on(
            host,
            "openssl s_client -connect 127.0.0.1:6443 </dev/null 2>/dev/null"
            " | openssl x509 -noout -fingerprint -sha256",
        )
        assert served.strip().split("=", 1)[1] == wanted, host
    after = await _main_pids(made, "kube-apiserver")
    assert all(after[host] != apiservers[host] for host in made.masters), (apiservers, after)
    assert await _main_pids(made, "kube-scheduler") == schedulers  # it reads none of them
    await assert_nothing_half_done(made.masters, made.on, made.work)
