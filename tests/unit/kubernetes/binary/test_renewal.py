"""A renewed certificate or kubeconfig in binary mode restarts the services that read it: each
placed PKI file names its readers (from the units' command lines and config files), and a
changed one records their restart before it is replaced (against the systemd double; the
fleet e2e renews the API server's certificate on real systemd)."""

from __future__ import annotations

from pathlib import Path

from kubexms.kubernetes.binary import BinaryControlPlaneModule, BinaryWorkersModule
from kubexms.steps import PKIFile, PlacePKIFiles
from tests.unit.kubernetes.binary.planning import plan_binary
from tests.unit.kubernetes.sample import make_cluster
from tests.unit.steps.systemd_double import SystemdDouble, systemd_context
from tests.unit.steps.test_systemd_service import PENDING, service

APISERVER = "kube-apiserver.service"
CONTROLLER_MANAGER = "kube-controller-manager.service"
SCHEDULER = "kube-scheduler.service"


def _readers(step: object) -> dict[str, tuple[str, ...]]:
    assert isinstance(step, PlacePKIFiles)
    return {item.dest: item.readers for item in step.files}


def test_each_master_file_names_the_services_that_read_it() -> None:
    cluster = make_cluster(kubernetes={"type": "kubexm"})
    nodes = plan_binary(cluster, BinaryControlPlaneModule()).nodes
    prefix = "create-cluster/control-plane"
    readers = _readers(nodes[f"{prefix}/prepare/certificates"].step)
    pki = "/etc/kubernetes/pki"
    assert readers[f"{pki}/apiserver.crt"] == (APISERVER,)
    assert readers[f"{pki}/apiserver.key"] == (APISERVER,)
    assert readers[f"{pki}/ca.crt"] == (APISERVER, CONTROLLER_MANAGER)
    assert readers[f"{pki}/ca.key"] == (CONTROLLER_MANAGER,)
    assert readers[f"{pki}/sa.key"] == (APISERVER, CONTROLLER_MANAGER)
    assert readers[f"{pki}/front-proxy-client.crt"] == (APISERVER,)
    assert readers["/etc/kubernetes/controller-manager.conf"] == (CONTROLLER_MANAGER,)
    assert readers["/etc/kubernetes/scheduler.conf"] == (SCHEDULER,)
    assert readers["/etc/kubernetes/admin.conf"] == ()  # read by kubectl, not a service
    assert _readers(nodes[f"{prefix}/prepare/encryption-config"].step) == {
        "/etc/kubernetes/encryption-config.yaml": (APISERVER,)
    }
    node = _readers(nodes[f"{prefix}/node-master1/node-certificates"].step)
    assert node["/etc/kubernetes/kubelet.conf"] == ("kubelet.service",)
    assert node["/var/lib/kubelet/pki/kubelet.crt"] == ("kubelet.service",)
    assert node["/etc/kubernetes/kube-proxy.conf"] == ("kube-proxy.service",)


def test_a_workers_ca_is_read_by_its_kubelet() -> None:
    cluster = make_cluster(kubernetes={"type": "kubexm"})
    nodes = plan_binary(cluster, BinaryWorkersModule()).nodes
    readers = _readers(nodes["create-cluster/workers/node-worker1/node-certificates"].step)
    assert readers["/etc/kubernetes/pki/ca.crt"] == ("kubelet.service",)


async def test_a_renewed_certificate_restarts_its_reader_once(tmp_path: Path) -> None:
    double = SystemdDouble()
    ctx = await systemd_context(double)
    (tmp_path / "server.crt").write_bytes(b"first certificate\n")
    place = PlacePKIFiles(
        (PKIFile("server.crt", "/etc/etcd/server.crt", readers=("etcd.service",)),),
        pki_dir=str(tmp_path),
    )
    await place.run(ctx)
    await service().run(ctx)
    assert PENDING not in double.files
    assert not (await place.precheck(ctx)).changed

    (tmp_path / "server.crt").write_bytes(b"renewed certificate\n")
    pending = await place.precheck(ctx)
    assert pending.detail.endswith("; would restart etcd.service"), pending.detail
    double.done.clear()
    placed = await place.run(ctx)
    assert placed.detail == "wrote /etc/etcd/server.crt; etcd.service to restart"
    # The marker first: a run cut off here restarts the service on the rerun.
    assert double.done == [f"write {PENDING}", "write /etc/etcd/server.crt"]
    assert (await service().precheck(ctx)).detail == "restart"
    await service().run(ctx)
    assert double.done[2:] == ["restart", f"remove {PENDING}"]
    double.done.clear()
    assert not (await place.run(ctx)).changed
    assert not (await service().run(ctx)).changed
    assert double.done == []
