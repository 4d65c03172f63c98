"""`kubexms create cluster --only cni,addons` on two fleet hosts against the kube-apiserver
double (on the real etcd), with the REAL kubectl and the helm double placed from the artifact
store: the phases in order, kubectl and helm run on the first master with the admin kubeconfig
and the rendered files, an add-on that fails is named with helm's message while the ones before
it stay, ``--resume`` continues at that add-on, and a rerun changes nothing.

The control plane is started by the test (etcd and the API-server double on the first master,
the admin kubeconfig at /etc/kubernetes/admin.conf) and the test plays the two kubelets: it
registers both Nodes and keeps their ``Ready`` heartbeat fresh, so the API-server double reports
calico-node rolled out (its pods use the host network) and the nodes Ready, as a cluster whose
control-plane and workers phases ran would. The phases before ``cni`` are skipped, except
``artifacts``, which fetches and places kubectl, Calico's source archive and helm.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import hashlib
import io
import json
import shlex
import subprocess
import sys
import tarfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml

from kubexms.config import load_config
from kubexms.pki import PkiOptions, generate_pki
from kubexms.sandbox import Fleet
from tests.doubles import (
    SYSTEM_PYTHON,
    build_double,
    double_script,
    kubectl_release,
    real_kubectl,
)
from tests.doubles.local_api import CLUSTER_ADMINS_BINDING, apiserver_flags
from tests.fixtures.artifacts.runtime_release import ReleaseFile
from tests.leasing import HostPool
from tests.unit.cni.upstream import FIXTURES

pytestmark = pytest.mark.fleet

KUBERNETES = "v1.32.0"
CALICO = "v3.29.7"
FLANNEL = "v0.26.7"
CILIUM = "v1.16.6"
HELM = "v3.16.4"
ETCD_PORT = 12379
REPO_PORT = 8879
RUN_TIMEOUT = 900.0
SKIPPED = "preflight,os,pki,etcd,container-runtime,registry,loadbalancer,control-plane,workers"
HEARTBEAT_SECONDS = 8.0
STATE = "/var/lib/cni-test"
"""Where the test keeps what it starts on a host (a host's /tmp is its own)."""
DEMO_MANIFEST = """\
apiVersion: v1
kind: Namespace
metadata:
  name: demo
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: demo
data:
  level: info
"""
CLEAN_UP = (
    "rm -rf /etc/kubexms /etc/kubernetes /usr/local/bin/kubectl /usr/local/bin/helm "
    "/opt/kubexms /var/lib/helm-double /var/lib/cni-test"
)


@dataclass
class Cluster:
    fleet: Fleet
    names: list[str]
    addresses: dict[str, str]
    cluster: Path
    work: Path
    directory: Path
    kubeconfig: Path
    kubectl_path: Path
    repo: Path
    started: list[tuple[str, int]]

    def args(self, *extra: str) -> list[str]:
        return [
            sys.executable, "-m", "kubexms", "create", "cluster", "-f", str(self.cluster),
            "--only", "cni,addons", "--skip", SKIPPED, "-o", "json", *extra,
        ]  # fmt: skip

    async def run(self, *extra: str) -> tuple[int, dict[str, Any], str]:
        process = await asyncio.create_subprocess_exec(
            *self.args(*extra), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        out, err = await asyncio.wait_for(process.communicate(), RUN_TIMEOUT)
        assert process.returncode is not None
        try:
            document = json.loads(out)
        except ValueError:
            document = {"raw": out.decode()}
        return process.returncode, document, err.decode()

    def kubectl(self, *args: str) -> Any:
        done = subprocess.run(
            [str(self.kubectl_path), f"--kubeconfig={self.kubeconfig}", *args, "-o", "json"],
            capture_output=True, text=True, timeout=60, check=False,
            env={"PATH": "/usr/bin:/bin", "HOME": str(self.directory)},
        )  # fmt: skip
        assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
        return json.loads(done.stdout)

    async def on(self, host: str, command: str, stdin: bytes | None = None) -> str:
        code, out, err = await self.fleet.host_exec(host, command, stdin=stdin)
        assert code == 0, f"{host}: {command!r} exited {code}: {err}"
        return out

    async def helm_calls(self) -> list[dict[str, Any]]:
        out = await self.on(
            self.names[0], "cat /var/lib/helm-double/calls.jsonl 2>/dev/null || true"
        )
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def newest_log(self) -> list[dict[str, Any]]:
        path = max((self.work / "runs").glob("*.jsonl"), key=lambda p: p.stat().st_mtime)
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tar_gz(path: Path, members: dict[str, tuple[bytes, int]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as archive:
        for name, (data, mode) in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            archive.addfile(info, io.BytesIO(data))
    return path


def releases(directory: Path) -> list[ReleaseFile]:
    """kubectl (the real one), Calico's source archive (the fixture's calico.yaml in it) and
    helm (the double) as release files, pinned in the cluster file."""
    calico = tar_gz(
        directory / f"calico-{CALICO}.tar.gz",
        {
            f"calico-{CALICO[1:]}/manifests/calico.yaml": (
                (FIXTURES / f"calico-{CALICO}.yaml").read_bytes(),
                0o644,
            )
        },
    )
    helm = tar_gz(
        directory / f"helm-{HELM}-linux-amd64.tar.gz",
        {"linux-amd64/helm": (double_script("helm").read_bytes(), 0o755)},
    )
    return [
        kubectl_release(KUBERNETES, directory),
        ReleaseFile("calico-manifests", calico, CALICO, sha256(calico)),
        ReleaseFile("helm", helm, HELM, sha256(helm)),
    ]


def chart(directory: Path, name: str, version: str) -> Path:
    metadata = yaml.safe_dump({"apiVersion": "v2", "name": name, "version": version})
    return tar_gz(
        directory / f"{name}-{version}.tgz", {f"{name}/Chart.yaml": (metadata.encode(), 0o644)}
    )


NOARCH_COMPONENTS = frozenset({"calico-manifests", "flannel-manifest", "cilium-chart"})


def overrides(files: list[ReleaseFile]) -> dict[str, Any]:
    found = {}
    for item in files:
        arch = "noarch" if item.component in NOARCH_COMPONENTS else "amd64"
        found[item.component] = {
            "version": item.version,
            "file": item.path.name,
            "url": item.url,
            "sha256": {arch: item.sha256},
        }
    return found


async def background(made: Cluster, host: str, argv: list[str], log: str) -> int:
    """Start ``argv`` on ``host`` in the background; its PID there (to stop it by)."""
    command = (
        f"mkdir -p {STATE}; setsid nohup {shlex.join(argv)} > {shlex.quote(log)} 2>&1 "
        "< /dev/null & echo $!"
    )
    return int((await made.on(host, command)).strip())


async def copy_tree(made: Cluster, host: str, local: Path, remote: str) -> None:
    """``local`` (a directory of this machine: /tmp is not shared with hosts) as ``remote``."""
    packed = io.BytesIO()
    with tarfile.open(fileobj=packed, mode="w:gz") as archive:
        archive.add(local, arcname=".")
    await made.on(host, f"mkdir -p {remote} && tar -xz -C {remote}", stdin=packed.getvalue())


async def start_control_plane(made: Cluster, local_pki: Path) -> None:
    """etcd and the API-server double on the first master, its admin kubeconfig in place."""
    master = made.names[0]
    address = made.addresses[master]
    await copy_tree(made, master, local_pki, f"{STATE}/pki")
    pki = Path(f"{STATE}/pki")
    etcd = f"https://127.0.0.1:{ETCD_PORT}"
    peer = f"https://127.0.0.1:{ETCD_PORT + 1}"
    etcd_pki = pki / "etcd"
    etcd_argv = [
        "/usr/bin/etcd", "--name", master, "--data-dir", f"{STATE}/etcd",
        "--listen-client-urls", etcd, "--advertise-client-urls", etcd,
        "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
        "--initial-cluster", f"{master}={peer}",
        "--cert-file", str(etcd_pki / f"server-{master}.crt"),
        "--key-file", str(etcd_pki / f"server-{master}.key"),
        "--client-cert-auth", "--trusted-ca-file", str(etcd_pki / "ca.crt"),
        "--peer-cert-file", str(etcd_pki / f"peer-{master}.crt"),
        "--peer-key-file", str(etcd_pki / f"peer-{master}.key"),
        "--peer-client-cert-auth", "--peer-trusted-ca-file", str(etcd_pki / "ca.crt"),
    ]  # fmt: skip
    flags = [
        flag
        for flag in apiserver_flags(pki, etcd, 6443)
        if not flag.startswith(("--advertise-address=", "--bind-address="))
    ]
    # the checkout is not visible inside a host: the double goes there as one file
    double = build_double("kube-apiserver", KUBERNETES, made.directory / "doubles")
    await made.on(
        master,
        f"mkdir -p {STATE} && cat > {STATE}/kube-apiserver && chmod 755 {STATE}/kube-apiserver",
        stdin=double.path.read_bytes(),
    )  # fmt: skip
    apiserver_argv = [
        f"{STATE}/kube-apiserver", *flags,
        f"--advertise-address={address}", f"--bind-address={address}",
    ]  # fmt: skip
    for argv, log in ((etcd_argv, "etcd.log"), (apiserver_argv, "apiserver.log")):
        made.started.append((master, await background(made, master, argv, f"{STATE}/{log}")))
    admin = yaml.safe_load((local_pki / "kubeconfig" / "admin.conf").read_text())
    admin["clusters"][0]["cluster"]["server"] = f"https://{address}:6443"
    text = yaml.safe_dump(admin)
    made.kubeconfig.write_text(text)
    made.kubeconfig.chmod(0o600)
    await made.on(
        master,
        "mkdir -p /etc/kubernetes && umask 077 && cat > /etc/kubernetes/admin.conf",
        stdin=text.encode(),
    )
    for _ in range(120):
        done = await asyncio.to_thread(
            subprocess.run,
            [str(made.kubectl_path), f"--kubeconfig={made.kubeconfig}", "get", "--raw", "/readyz"],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        if done.returncode == 0:
            break
        await asyncio.sleep(0.5)
    else:
        log = await made.on(master, f"cat {STATE}/apiserver.log {STATE}/etcd.log")
        pytest.fail(f"the API-server double did not get ready: {log}")
    # As kubeadm init: admin.conf's group kubeadm:cluster-admins is bound to cluster-admin with
    # super-admin.conf (the double enforces RBAC: without the binding admin.conf may nothing).
    super_admin = yaml.safe_load((local_pki / "kubeconfig" / "super-admin.conf").read_text())
    super_admin["clusters"][0]["cluster"]["server"] = f"https://{address}:6443"
    super_admin_path = made.directory / "super-admin.conf"
    super_admin_path.write_text(yaml.safe_dump(super_admin))
    super_admin_path.chmod(0o600)
    binding = made.directory / "cluster-admins.yaml"
    binding.write_text(yaml.safe_dump(CLUSTER_ADMINS_BINDING))
    await asyncio.to_thread(
        subprocess.run,
        [str(made.kubectl_path), f"--kubeconfig={super_admin_path}", "apply", "--server-side",
         "-f", str(binding)],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip


def node_status(address: str, name: str) -> dict[str, Any]:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    ready = {
        "type": "Ready", "status": "True", "reason": "KubeletReady",
        "message": "kubelet is posting ready status", "lastHeartbeatTime": now,
        "lastTransitionTime": now,
    }  # fmt: skip
    return {
        "status": {
            "conditions": [ready],
            "addresses": [
                {"type": "InternalIP", "address": address},
                {"type": "Hostname", "address": name},
            ],
        }
    }


async def play_kubelets(made: Cluster) -> None:
    """Register both nodes, then post their Ready heartbeat until cancelled."""
    for name in made.names:
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "labels": {
                    "kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                },
            },
        }  # fmt: skip
        await asyncio.to_thread(
            subprocess.run,
            [str(made.kubectl_path), f"--kubeconfig={made.kubeconfig}", "create", "-f", "-"],
            input=json.dumps(node), capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
    while True:
        for name in made.names:
            patch = json.dumps(node_status(made.addresses[name], name))
            await asyncio.to_thread(
                subprocess.run,
                [str(made.kubectl_path), f"--kubeconfig={made.kubeconfig}", "patch", "node", name,
                 "--subresource=status", "--type=merge", "-p", patch],
                capture_output=True, timeout=30, check=False,
            )  # fmt: skip
        await asyncio.sleep(HEARTBEAT_SECONDS)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def made(
    fleet_pool: HostPool, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Cluster]:
    directory = tmp_path_factory.mktemp("cni-addons")
    files = releases(directory / "releases")
    repo = directory / "repo"
    repo.mkdir()
    manifest = directory / "demo.yaml"
    manifest.write_text(DEMO_MANIFEST)
    local_chart = chart(directory, "local", "0.2.0")
    values = directory / "local-values.yaml"
    values.write_text("replicas: 2\n")
    with fleet_pool.lease(2, holder=__name__) as leased:
        names = leased.names
        document = leased.cluster_document()
        addresses = {
            host["name"]: host.get("internalAddress", host["address"])
            for host in document["spec"]["hosts"]
        }
        repo_url = f"http://{addresses[names[1]]}:{REPO_PORT}"

        def shape(document: dict[str, Any]) -> None:
            spec = document["spec"]
            spec["roleGroups"] = {"master": names[:1], "etcd": names[:1], "worker": names[1:]}
            spec["global"]["workDir"] = str(directory / "work")
            spec["kubernetes"] = {"version": KUBERNETES}
            spec["network"] = {"plugin": "calico", "calico": {"mode": "vxlan", "mtu": 1400}}
            spec["artifacts"] = {"overrides": overrides(files)}
            spec["addons"] = [
                {"name": "demo", "type": "manifest", "manifests": [str(manifest)]},
                {
                    "name": "metrics", "type": "helm", "chart": "metrics", "repo": repo_url,
                    "version": "0.1.0", "namespace": "monitoring", "values": {"replicas": 1},
                },
                {
                    "name": "local", "type": "helm", "chart": str(local_chart),
                    "valuesFiles": [str(values)], "namespace": "tools",
                },
            ]  # fmt: skip

        cluster = leased.cluster_file(directory, edit=shape, name="cluster.yaml")
        made = Cluster(
            leased.fleet, names, addresses, cluster, directory / "work", directory,
            directory / "admin.conf", real_kubectl(KUBERNETES), repo, [],
        )  # fmt: skip
        pki = directory / "work" / "pki"
        generate_pki(load_config(cluster), pki, options=PkiOptions(key_type="ecdsa"))
        heartbeat: asyncio.Task[None] | None = None
        try:
            await start_control_plane(made, pki)
            heartbeat = asyncio.create_task(play_kubelets(made))
            yield made
        finally:
            if heartbeat is not None:
                heartbeat.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await heartbeat
            for host, pid in made.started:  # only what this test started, by PID
                await leased.fleet.host_exec(host, f"kill {pid}")
            for name in names:
                await leased.fleet.host_exec(name, CLEAN_UP)


def nodes_of(log: list[dict[str, Any]], kinds: set[str]) -> set[str]:
    return {event["node"] for event in log if event["event"] in kinds}


async def test_an_addon_that_fails_is_named_and_the_ones_before_it_stay(made: Cluster) -> None:
    code, document, err = await made.run()
    assert code != 0, document
    text = err + json.dumps(document)
    assert "addon metrics" in text, text
    assert "is not a valid chart repository or cannot be reached" in text
    # the pod network is up: calico-node applied from the rendered manifest, annotated
    daemonset = made.kubectl(
        "--namespace=kube-system", "get", "daemonset", "calico-node", "--show-managed-fields"
    )
    annotations = daemonset["metadata"]["annotations"]
    assert len(annotations["kubexms.io/applied-sha256"]) == 64
    (node,) = [c for c in daemonset["spec"]["template"]["spec"]["containers"]
               if c["name"] == "calico-node"]  # fmt: skip
    env = {item["name"]: item.get("value") for item in node["env"]}
    assert env["CALICO_IPV4POOL_CIDR"] == "10.233.64.0/18"
    assert env["CALICO_IPV4POOL_VXLAN"] == "Always"
    config = made.kubectl("--namespace=kube-system", "get", "configmap", "calico-config")
    assert config["data"]["veth_mtu"] == "1400"
    # the managers: kubexms applied server-side
    managers = {entry["manager"] for entry in daemonset["metadata"]["managedFields"]}
    assert "kubexms" in managers
    assert (made.work / "network.json").exists()
    # the add-on before the failed one stays
    settings = made.kubectl("--namespace=demo", "get", "configmap", "settings")
    assert settings["data"] == {"level": "info"}
    # the rendered files kubectl applied, on the first master only
    applied = await made.on(made.names[0], "ls /etc/kubexms/cni /etc/kubexms/addons/demo")
    assert "calico.yaml" in applied
    assert "00-demo.yaml" in applied
    code, _, _ = await made.fleet.host_exec(made.names[1], "test -e /etc/kubexms")
    assert code != 0
    # helm ran on the first master with the admin kubeconfig
    (call,) = await made.helm_calls()
    assert call["argv"][:5] == ["helm", "upgrade", "--install", "metrics", "metrics"]
    assert "--kubeconfig=/etc/kubernetes/admin.conf" in call["argv"]
    assert "--values=/etc/kubexms/addons/metrics/values.yaml" in call["argv"]
    assert call["values"] == [
        {"path": "/etc/kubexms/addons/metrics/values.yaml", "content": "replicas: 1\n"}
    ]


async def test_resume_continues_at_the_failed_addon(made: Cluster) -> None:
    (made.repo / "metrics-0.1.0.tgz").write_bytes(
        chart(made.directory, "metrics", "0.1.0").read_bytes()
    )
    index = {
        "apiVersion": "v1",
        "entries": {"metrics": [{"name": "metrics", "version": "0.1.0",
                                 "urls": ["metrics-0.1.0.tgz"]}]},
    }  # fmt: skip
    (made.repo / "index.yaml").write_text(yaml.safe_dump(index))
    await copy_tree(made, made.names[1], made.repo, f"{STATE}/repo")
    server = [str(SYSTEM_PYTHON), "-m", "http.server", str(REPO_PORT),
              "--bind", made.addresses[made.names[1]], "--directory", f"{STATE}/repo"]  # fmt: skip
    made.started.append(
        (made.names[1], await background(made, made.names[1], server, f"{STATE}/repo.log"))
    )
    await asyncio.sleep(1.0)
    code, document, err = await made.run("--resume")
    assert code == 0, err + json.dumps(document)
    log = made.newest_log()
    ran = nodes_of(log, {"changed", "unchanged", "failed"})
    resumed = nodes_of(log, {"skipped"})
    assert any(node.startswith("create-cluster/cni/") for node in resumed)
    assert not any(node.startswith("create-cluster/cni/") for node in ran)
    assert "create-cluster/addons/addon-demo/manifest-0" in resumed
    assert "create-cluster/addons/addon-metrics/helm" in ran
    assert "create-cluster/addons/addon-local/helm" in ran
    calls = await made.helm_calls()
    assert [call["argv"][3] for call in calls] == ["metrics", "metrics", "local"]
    local = calls[-1]["argv"]
    assert local[4] == "/etc/kubexms/addons/local/local-0.2.0.tgz"
    assert "--values=/etc/kubexms/addons/local/values-0-local-values.yaml" in local
    secrets = made.kubectl("--namespace=monitoring", "get", "secrets", "-l", "owner=helm")
    assert [s["metadata"]["name"] for s in secrets["items"]] == ["sh.helm.release.v1.metrics.v1"]
    assert document["hosts"][made.names[0]]["notes"] == RELEASES  # each release's status


RELEASES = {
    "create-cluster/addons/addon-metrics/helm": "metrics deployed, revision 1, chart metrics-0.1.0",
    "create-cluster/addons/addon-local/helm": "local deployed, revision 1, chart local-0.2.0",
}
"""What the run summary says of the two releases (host's ``notes``: node -> result)."""


async def test_a_rerun_changes_nothing(made: Cluster) -> None:
    before = await made.helm_calls()
    code, document, err = await made.run()
    assert code == 0, err + json.dumps(document)
    assert document["outcome"] == "succeeded"
    changed = {host: counts["changed"] for host, counts in document["hosts"].items()}
    assert set(changed.values()) == {0}, changed
    assert await made.helm_calls() == before  # no helm upgrade: the releases are current
    assert document["hosts"][made.names[0]]["notes"] == RELEASES  # found as they were


async def test_the_files_applied_are_the_rendered_ones(made: Cluster) -> None:
    out = made.directory / "rendered"
    master = made.names[0]
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "kubexms", "render", "-f", str(made.cluster), "--out", str(out),
         "--hosts", master],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    for path in (
        "/etc/kubexms/cni/calico.yaml",
        "/etc/kubexms/addons/demo/00-demo.yaml",
        "/etc/kubexms/addons/metrics/values.yaml",
        "/etc/kubexms/addons/local/values-0-local-values.yaml",
    ):
        rendered = (out / master / path.lstrip("/")).read_text()
        assert rendered == await made.on(master, f"cat {path}"), path


async def test_a_dry_run_of_the_done_cluster_would_change_nothing(made: Cluster) -> None:
    code, document, err = await made.run("--dry-run")
    assert code == 0, err + json.dumps(document)
    would = {host: counts["would_change"] for host, counts in document["hosts"].items()}
    assert set(would.values()) == {0}, would


async def test_another_plugins_configuration_is_reported_not_merged(made: Cluster) -> None:
    worker = made.names[1]
    foreign = "/etc/cni/net.d/10-bridge.conflist"
    await made.on(worker, f"mkdir -p /etc/cni/net.d && echo '{{}}' > {foreign}")
    try:
        code, document, err = await made.run()
        assert code != 0
        text = err + json.dumps(document)
        assert f"{worker}: {foreign} is not calico's" in text
        assert "kubexms does not merge them" in text
        assert await made.on(worker, f"cat {foreign}") == "{}\n"  # left as it was
    finally:
        await made.on(worker, f"rm -f {foreign}")


CILIUM_STAND_IN = """\
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: cilium
  labels: {k8s-app: cilium}
spec:
  selector:
    matchLabels: {k8s-app: cilium}
  template:
    metadata:
      labels: {k8s-app: cilium}
    spec:
      hostNetwork: true
      containers:
      - name: cilium-agent
        image: quay.io/cilium/cilium:v1.16.6
"""
"""The stand-in chart's one template: the agent DaemonSet as Cilium's chart names it (host
network, ``k8s-app=cilium``), so the wait has the DaemonSet the real chart would create."""


def other_plugin(made: Cluster, plugin: str) -> Cluster:
    """``made``'s hosts and control plane in a cluster file of its own (its own work dir, so
    no network is recorded yet) whose plugin is ``plugin``, with no add-on: the plugin's
    release file (flannel's manifest from the upstream fixture, or a stand-in Cilium chart
    whose template is a plain manifest) pinned in ``spec.artifacts.overrides``."""
    directory = made.directory / plugin
    directory.mkdir(exist_ok=True)
    if plugin == "flannel":
        manifest = directory / f"kube-flannel-{FLANNEL}.yml"
        manifest.write_bytes((FIXTURES / f"kube-flannel-{FLANNEL}.yml").read_bytes())
        added = ReleaseFile("flannel-manifest", manifest, FLANNEL, sha256(manifest))
        network: dict[str, Any] = {"plugin": "flannel", "flannel": {"backend": "vxlan"}}
    else:
        metadata = yaml.safe_dump({"apiVersion": "v2", "name": "cilium", "version": CILIUM[1:]})
        stand_in = tar_gz(
            directory / f"cilium-{CILIUM[1:]}.tgz",
            {
                "cilium/Chart.yaml": (metadata.encode(), 0o644),
                "cilium/templates/daemonset.yaml": (CILIUM_STAND_IN.encode(), 0o644),
            },
        )
        added = ReleaseFile("cilium-chart", stand_in, CILIUM, sha256(stand_in))
        network = {"plugin": "cilium"}
    document = yaml.safe_load(made.cluster.read_text())
    spec = document["spec"]
    spec["network"] = network
    spec["global"]["workDir"] = str(directory / "work")
    spec["artifacts"]["overrides"].update(overrides([added]))
    spec["addons"] = []
    cluster = directory / "cluster.yaml"
    cluster.write_text(yaml.safe_dump(document, sort_keys=False))
    return replace(made, cluster=cluster, work=directory / "work")


def modules_in_order(log: list[dict[str, Any]]) -> list[str]:
    """The phases whose steps ran, in the order their first step started."""
    seen: list[str] = []
    for event in log:
        if event["event"] == "started" and event["node"].split("/")[1] not in seen:
            seen.append(event["node"].split("/")[1])
    return seen


async def test_a_plugin_change_is_refused_at_its_field_path(made: Cluster) -> None:
    document = yaml.safe_load(made.cluster.read_text())
    document["spec"]["network"] = {"plugin": "flannel"}
    changed = made.directory / "cluster-flannel.yaml"
    changed.write_text(yaml.safe_dump(document, sort_keys=False))
    code, result, err = await replace(made, cluster=changed).run()
    text = err + json.dumps(result)
    assert code != 0
    assert "spec.network.plugin" in text, text
    assert json.loads((made.work / "network.json").read_text())["plugin"] == "calico"


@pytest.mark.parametrize("plugin", ["flannel", "cilium"])
async def test_flannel_and_cilium_on_the_same_control_plane(made: Cluster, plugin: str) -> None:
    other = other_plugin(made, plugin)
    helm_before = await made.helm_calls()
    code, document, err = await other.run()
    assert code == 0, err + json.dumps(document)
    assert modules_in_order(other.newest_log()) == ["artifacts", "cni"]
    master = made.names[0]
    if plugin == "flannel":
        # the rendered manifest on the first master is what the server holds, applied by kubexms
        daemonset = made.kubectl(
            "--namespace=kube-flannel", "get", "daemonset", "kube-flannel-ds",
            "--show-managed-fields",
        )  # fmt: skip
        assert "kubexms" in {entry["manager"] for entry in daemonset["metadata"]["managedFields"]}
        assert len(daemonset["metadata"]["annotations"]["kubexms.io/applied-sha256"]) == 64
        config = made.kubectl("--namespace=kube-flannel", "get", "configmap", "kube-flannel-cfg")
        net_conf = json.loads(config["data"]["net-conf.json"])
        assert net_conf["Network"] == "10.233.64.0/18"
        assert net_conf["Backend"] == {"Type": "vxlan"}
        assert await made.helm_calls() == helm_before  # flannel needs no helm
        path = "/etc/kubexms/cni/flannel.yaml"
    else:
        (call,) = (await made.helm_calls())[len(helm_before) :]
        argv = call["argv"]
        assert argv[:5] == ["helm", "upgrade", "--install", "cilium",
                            f"/etc/kubexms/cni/cilium-{CILIUM[1:]}.tgz"]  # fmt: skip
        assert "--kubeconfig=/etc/kubernetes/admin.conf" in argv
        assert "--namespace=kube-system" in argv
        assert "--values=/etc/kubexms/cni/cilium-values.yaml" in argv
        (values,) = call["values"]
        sent = yaml.safe_load(values["content"])
        assert sent["ipam"] == {"mode": "kubernetes"}
        assert sent["kubeProxyReplacement"] is False
        assert sent["ipv4NativeRoutingCIDR"] == "10.233.64.0/18"
        daemonset = made.kubectl("--namespace=kube-system", "get", "daemonset", "cilium")
        assert daemonset["metadata"]["annotations"]["meta.helm.sh/release-name"] == "cilium"
        notes = document["hosts"][master]["notes"]
        note = f"cilium deployed, revision 1, chart cilium-{CILIUM[1:]}"
        assert notes == {"create-cluster/cni/install/helm": note}
        path = "/etc/kubexms/cni/cilium-values.yaml"
    # rolled out on both nodes (host network: the kubelets the test plays are alive)
    assert daemonset["metadata"]["name"] in {"kube-flannel-ds", "cilium"}
    status = made.kubectl(
        f"--namespace={daemonset['metadata']['namespace']}", "get", "daemonset",
        daemonset["metadata"]["name"],
    )["status"]  # fmt: skip
    assert status["numberReady"] == status["desiredNumberScheduled"] == len(made.names)
    # what the first master applied is what kubexms render shows for it
    out = other.directory / f"rendered-{plugin}"
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "kubexms", "render", "-f", str(other.cluster), "--out", str(out),
         "--hosts", master],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (out / master / path.lstrip("/")).read_text() == await made.on(master, f"cat {path}")
    # a rerun changes nothing
    helm_after = await made.helm_calls()
    code, document, err = await other.run()
    assert code == 0, err + json.dumps(document)
    changed = {host: counts["changed"] for host, counts in document["hosts"].items()}
    assert set(changed.values()) == {0}, changed
    assert await made.helm_calls() == helm_after
