"""``kubexms render``: what the phases would place on each host, written without a host."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from kubexms.cli import app
from kubexms.kubernetes import ca_cert_hash
from kubexms.pipelines._render import RenderError, plan_files, write_render
from kubexms.pki import PkiOptions, generate_pki
from kubexms.steps import SECRET_MARKER
from tests.unit.config.sample import to_yaml
from tests.unit.kubernetes.sample import cluster_data, make_cluster

MASTER_FILES = {
    "etc/systemd/system/etcd.service",
    "etc/etcd/etcd.env",
    "etc/etcd/etcdctl.env",
    "etc/etcd/release",
    "etc/profile.d/etcdctl.sh",
    "etc/kubernetes/pki/etcd/ca.crt",
    "etc/kubernetes/pki/etcd/server.crt",
    "etc/kubernetes/pki/etcd/server.key",
    "etc/kubernetes/pki/etcd/peer.crt",
    "etc/kubernetes/pki/etcd/peer.key",
    "etc/kubernetes/pki/etcd/healthcheck-client.crt",
    "etc/kubernetes/pki/etcd/healthcheck-client.key",
    "etc/systemd/system/containerd.service",
    "etc/containerd/config.toml",
    "etc/crictl.yaml",
    "etc/systemd/system/kubelet.service",
    "etc/systemd/system/kubelet.service.d/10-kubeadm.conf",
    *(
        f"etc/kubernetes/pki/{name}.{suffix}"
        for name in (
            "ca",
            "front-proxy-ca",
            "apiserver",
            "apiserver-kubelet-client",
            "front-proxy-client",
            "apiserver-etcd-client",
        )
        for suffix in ("crt", "key")
    ),
    "etc/kubernetes/pki/sa.key",
    "etc/kubernetes/pki/sa.pub",
    "etc/kubernetes/controller-manager.conf",
    "etc/kubernetes/scheduler.conf",
}
FIRST_MASTER_FILES = {
    "etc/kubernetes/admin.conf",
    "etc/kubernetes/super-admin.conf",
    "etc/kubernetes/kubelet.conf",
    "etc/kubernetes/kubeadm/init.yaml",
}
WORKER_FILES = {
    "etc/systemd/system/containerd.service",
    "etc/containerd/config.toml",
    "etc/crictl.yaml",
    "etc/systemd/system/kubelet.service",
    "etc/systemd/system/kubelet.service.d/10-kubeadm.conf",
    "etc/kubernetes/kubeadm/join.yaml",
}


def _tree(root: Path) -> set[str]:
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()}


def test_a_three_master_file_renders_each_hosts_files_and_steps(tmp_path: Path) -> None:
    cluster = make_cluster()
    pki = tmp_path / "pki"
    generate_pki(cluster, pki, options=PkiOptions(key_type="ecdsa"))
    out = tmp_path / "out"
    write_render(plan_files(cluster, pki_dir=pki), out)
    assert sorted(path.name for path in out.iterdir()) == sorted(
        [
            f"{host}{suffix}"
            for host in cluster_data()["spec"]["roleGroups"]["master"] + ["worker1", "worker2"]
            for suffix in ("", ".steps")
        ]
    )
    # the pod network's manifest too: it is applied from the first master
    cni = {"etc/kubexms/cni/calico.yaml"}
    assert _tree(out / "master1") == MASTER_FILES | FIRST_MASTER_FILES | cni
    for master in ("master2", "master3"):
        assert _tree(out / master) == MASTER_FILES | {"etc/kubernetes/kubeadm/join.yaml"}
    assert _tree(out / "worker1") == WORKER_FILES
    # Each member's own configuration; certificates byte for byte from the PKI, keys never.
    env = (out / "master2/etc/etcd/etcd.env").read_text()
    assert "ETCD_NAME=master2" in env
    assert "https://10.213.0.12:2380" in env
    server = out / "master2/etc/kubernetes/pki/etcd/server.crt"
    assert server.read_bytes() == (pki / "etcd/server-master2.crt").read_bytes()
    for key in (out / "master2").rglob("*.key"):
        text = key.read_text()
        assert text.startswith(SECRET_MARKER)
        assert "PRIVATE KEY" not in text
    steps = (out / "master1.steps").read_text()
    assert "create-cluster/etcd/service-master1/service: service etcd.service" in steps
    assert (
        "0600 /etc/kubernetes/pki/etcd/server.key  secret: cluster PKI etcd/server-master1.key"
        in steps
    )
    assert "master2" not in (out / "worker1.steps").read_text().split("## files")[1]
    # kubeadm's configurations as they will be on the hosts, the token alone not shown.
    init = (out / "master1/etc/kubernetes/kubeadm/init.yaml").read_text()
    assert f"token: {SECRET_MARKER}" in init
    assert "kind: ClusterConfiguration" in init
    join = (out / "worker1/etc/kubernetes/kubeadm/join.yaml").read_text()
    assert f"token: {SECRET_MARKER}" in join
    assert ca_cert_hash((pki / "ca.crt").read_bytes()) in join
    assert "controlPlane" not in join
    assert "controlPlane:" in (out / "master3/etc/kubernetes/kubeadm/join.yaml").read_text()
    assert "0600 /etc/kubernetes/kubeadm/init.yaml" in steps


def test_no_secret_anywhere_in_the_render(tmp_path: Path) -> None:
    cluster = make_cluster(
        registry={"auths": {"reg.demo.internal": {"username": "u", "password": "hunter2-secret"}}}
    )
    pki = tmp_path / "pki"
    generate_pki(cluster, pki, options=PkiOptions(key_type="ecdsa"))
    out = tmp_path / "out"
    write_render(plan_files(cluster, pki_dir=pki), out)
    keys = [path.read_bytes() for path in pki.rglob("*.key")]
    for path in out.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"hunter2-secret" not in data, path
            assert b"PRIVATE KEY" not in data, path
            assert not any(key in data for key in keys)


def test_before_the_pki_exists_certificates_are_markers_naming_their_source(tmp_path: Path) -> None:
    write_render(plan_files(make_cluster(), ["master1"], pki_dir=tmp_path / "none"), tmp_path)
    text = (tmp_path / "master1/etc/kubernetes/pki/etcd/ca.crt").read_text()
    assert text == f"{SECRET_MARKER} (cluster PKI etcd/ca.crt, not generated yet)\n"
    assert not (tmp_path / "worker1").exists()


def test_unknown_hosts_are_named() -> None:
    with pytest.raises(RenderError, match="nope are not in the cluster file"):
        plan_files(make_cluster(), ["master1", "nope"])


def test_the_command_writes_the_tree_and_refuses_unknown_hosts(tmp_path: Path) -> None:
    file = tmp_path / "cluster.yaml"
    file.write_text(to_yaml(cluster_data()))
    out = tmp_path / "out"
    runner = CliRunner()
    result = runner.invoke(
        app, ["render", "-f", str(file), "--out", str(out), "--hosts", "worker2"]
    )
    assert result.exit_code == 0, result.output
    assert _tree(out) == {"worker2.steps", *(f"worker2/{path}" for path in WORKER_FILES)}
    refused = runner.invoke(app, ["render", "-f", str(file), "--out", str(out), "--hosts", "x"])
    assert refused.exit_code == 1
    assert "x are not in the cluster file" in refused.output


def test_a_backup_schedule_renders_its_script_and_units(tmp_path: Path) -> None:
    cluster = make_cluster(etcd={"backup": {"schedule": "daily"}})
    write_render(plan_files(cluster, ["master3"], pki_dir=tmp_path / "none"), tmp_path)
    timer = (tmp_path / "master3/etc/systemd/system/kubexms-etcd-backup.timer").read_text()
    assert "OnCalendar=daily" in timer
    assert (tmp_path / "master3/usr/local/bin/kubexms-etcd-backup").is_file()
    assert "0755 /usr/local/bin/kubexms-etcd-backup" in (tmp_path / "master3.steps").read_text()
