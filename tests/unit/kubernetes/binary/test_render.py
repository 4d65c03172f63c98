"""``kubexms render`` of a binary-mode cluster: the units, configuration files and cluster
objects each host would get, the secrets as markers."""

from __future__ import annotations

from pathlib import Path

from kubexms.kubernetes.binary import apiserver_args, render_unit
from kubexms.pipelines._render import plan_files
from kubexms.pki import PkiOptions, generate_pki
from kubexms.steps import SECRET_MARKER
from tests.unit.kubernetes.sample import make_cluster


def test_render_shows_binary_modes_files_on_each_host(tmp_path: Path) -> None:
    cluster = make_cluster(kubernetes={"type": "kubexm"})
    pki = tmp_path / "pki"
    generate_pki(cluster, pki, options=PkiOptions(key_type="ecdsa"))
    renders = plan_files(cluster, ["master1", "worker1"], pki_dir=pki)
    master = renders["master1"].files
    unit = master["/etc/systemd/system/kube-apiserver.service"].content
    assert unit == render_unit("kube-apiserver", apiserver_args(cluster, "10.213.0.11")).encode()
    for path in (
        "/etc/systemd/system/kube-controller-manager.service",
        "/etc/systemd/system/kube-scheduler.service",
        "/etc/kubernetes/kube-scheduler-config.yaml",
        "/var/lib/kubelet/config.yaml",
        "/var/lib/kube-proxy/config.yaml",
        "/etc/kubernetes/kubexms/cluster-objects.yaml",
    ):
        assert master[path].content, path
    for secret in ("/etc/kubernetes/encryption-config.yaml", "/etc/kubernetes/pki/sa.key",
                   "/var/lib/kubelet/pki/kubelet.key"):  # fmt: skip
        assert master[secret].content is None
        assert master[secret].shown().startswith(SECRET_MARKER.encode())
    worker = renders["worker1"].files
    assert "/etc/systemd/system/kube-apiserver.service" not in worker
    assert b"hostnameOverride: worker1" in (
        worker["/var/lib/kube-proxy/config.yaml"].content or b""
    )
