"""`kubexms create cluster` in kubeadm mode on 3 masters + 2 workers (fleet tier), etcd run by
kubexms (``etcd.type: kubexm``) on the masters.

Through the real etcd (Debian's, in etcd's release layout), containerd, the load balancer
(haproxy and keepalived on the two workers, a virtual IP as the endpoint) and the kubeadm and
kubelet doubles (tests/doubles/kubeadm_double), which run the API-server double as a static
pod. The phases run up to ``workers`` (``--only workers``; cni and addons have their own
tests). A worker kubeadm once set up for another cluster is refused, and ``--resume`` finishes
once it is cleaned; a real kubectl gets ``/readyz`` through the endpoint and lists the five
nodes; a rerun changes nothing; ``kubexms render`` holds what the run placed, byte for byte
(the token aside). tests/e2e/test_create_cluster_kubeadm_stacked.py does stacked etcd.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from kubexms.config import load_config
from kubexms.pki import PkiOptions, generate_pki
from tests.kubeadm_cluster import Cluster, changed_counts, kubeadm_cluster
from tests.leasing import HostPool

pytestmark = pytest.mark.fleet


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def cluster(
    fleet_pool: HostPool, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Cluster]:
    directory = tmp_path_factory.mktemp("create-kubeadm")
    async with kubeadm_cluster(fleet_pool, directory, __name__) as made:
        yield made


async def test_another_clusters_host_is_refused_and_resume_finishes(cluster: Cluster) -> None:
    # A worker kubeadm once joined to another cluster: its kubelet.conf trusts another CA.
    victim = cluster.hosts.names[4]
    other = cluster.directory / "other-pki"
    generate_pki(load_config(cluster.file), other, options=PkiOptions(key_type="ecdsa"))
    foreign = (other / "kubeconfig" / f"kubelet-{victim}.conf").read_text()
    await cluster.hosts.run(
        victim,
        f"mkdir -p /etc/kubernetes && cat > /etc/kubernetes/kubelet.conf <<'EOF'\n{foreign}EOF",
    )
    before = await cluster.hosts.run(victim, "sha256sum /etc/kubernetes/kubelet.conf")

    code, out, err = await cluster.run("-o", "json")
    assert code == 1, err + out
    result = json.loads(out)
    assert result["failed_hosts"] == [victim], result["errors"]
    message = " ".join(result["hosts"][victim]["errors"])
    assert "kubeadm set this host up for another cluster" in message, message
    assert "Refused; nothing was changed" in message
    assert await cluster.hosts.run(victim, "sha256sum /etc/kubernetes/kubelet.conf") == before

    await cluster.hosts.run(victim, "rm /etc/kubernetes/kubelet.conf")
    code, out, err = await cluster.run("-o", "json", "--resume")
    assert code == 0, err + out

    readyz = cluster.kubectl("get", "--raw", "/readyz")
    assert (readyz.returncode, readyz.stdout.strip()) == (0, "ok"), readyz.stderr
    nodes = json.loads(cluster.kubectl("get", "nodes", "-o", "json").stdout)["items"]
    assert sorted(n["metadata"]["name"] for n in nodes) == sorted(cluster.hosts.names)
    masters = [
        n for n in nodes if "node-role.kubernetes.io/control-plane" in n["metadata"]["labels"]
    ]
    assert sorted(n["metadata"]["name"] for n in masters) == sorted(cluster.hosts.names[:3])
    token = (cluster.work / "kubernetes" / "bootstrap-token").read_text().strip()
    for name in cluster.hosts.names:
        modes = await cluster.hosts.run(name, "stat -c '%a %n' /etc/kubernetes/kubeadm/*.yaml")
        assert all(line.startswith("600 ") for line in modes.splitlines()), modes
        journal = await cluster.hosts.run(name, "journalctl --no-pager | tail -n 2000")
        assert token.split(".")[1] not in journal


async def test_a_rerun_changes_nothing(cluster: Cluster) -> None:
    code, out, err = await cluster.run("-o", "json")
    assert code == 0, err + out
    assert set(changed_counts(json.loads(out)).values()) == {0}, json.loads(out)["hosts"]


async def test_render_holds_what_the_run_placed(cluster: Cluster) -> None:
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
            if code != 0:
                # The render covers every phase; this run stopped after workers.
                assert where.startswith(("/etc/kubexms/cni/", "/etc/kubexms/addons/")), where
                continue
            # The token is the one secret a kubeadm configuration holds: shown as the marker.
            on_host = on_host.replace(token, "<kubexms: secret, not rendered>")
            assert on_host == rendered, f"{name}:{where}"
            compared.add(f"{name}:{where}")
    first, worker = cluster.hosts.names[0], cluster.hosts.names[4]
    for wanted in (
        f"{first}:/etc/kubernetes/kubeadm/init.yaml",
        f"{worker}:/etc/kubernetes/kubeadm/join.yaml",
        f"{first}:/etc/systemd/system/kubelet.service.d/10-kubeadm.conf",
        f"{first}:/etc/kubernetes/pki/apiserver.crt",
        f"{first}:/etc/etcd/etcd.env",
    ):
        assert wanted in compared, wanted
