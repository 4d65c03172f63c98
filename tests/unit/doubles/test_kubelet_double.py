"""The kubelet double against a real etcd and the API-server double on loopback: strict about
its flags and configuration, TLS bootstrap with a bootstrap token (the controller-manager
stand-in signs the CSR), its Node registered over TLS with the client certificate it got."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from kubexms.kubernetes import BootstrapToken, kubelet_configuration
from tests.doubles import SYSTEM_PYTHON
from tests.doubles.doubles_core.api import from_kubeconfig
from tests.doubles.kubeadm_double import DOUBLES, rbac
from tests.doubles.kubeadm_double.pki import kubeconfig
from tests.doubles.kubeadm_double.tokens import token_secret_object
from tests.doubles.kubelet_double import build
from tests.doubles.local_api import LocalApi, free_port, local_api, local_cluster

TOKEN = BootstrapToken("kxmsab", "0123456789abcdef")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalApi]:
    with local_api(tmp_path_factory.mktemp("api")) as running:
        yield running


def _root(tmp_path: Path, api: LocalApi) -> Path:
    """A node's root: kubeadm's kubelet files, a bootstrap kubeconfig, no kubelet.conf yet."""
    root = tmp_path / "root"
    config = kubelet_configuration(local_cluster())
    config["staticPodPath"] = "/etc/kubernetes/manifests"
    # Its listeners on loopback ports of their own (the defaults 10250/10248 are the machine's).
    config.update({"address": "127.0.0.1", "port": free_port(), "healthzPort": free_port()})
    lib = root / "var/lib/kubelet"
    lib.mkdir(parents=True)
    (lib / "config.yaml").write_text(yaml.safe_dump(config))
    ca = (api.pki / "ca.crt").read_bytes()
    bootstrap = kubeconfig(api.url, ca, "kubernetes", "tls-bootstrap-token-user", token=TOKEN.value)
    (root / "etc/kubernetes/pki").mkdir(parents=True)
    (root / "etc/kubernetes/bootstrap-kubelet.conf").write_bytes(bootstrap)
    (root / "etc/kubernetes/pki/ca.crt").write_bytes(ca)  # kubeadm's clientCAFile
    return root


def _flags(name: str) -> list[str]:
    return [
        "--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf",
        "--kubeconfig=/etc/kubernetes/kubelet.conf",
        "--config=/var/lib/kubelet/config.yaml",
        "--container-runtime-endpoint=unix:///run/containerd/containerd.sock",
        f"--hostname-override={name}",
        "--node-ip=127.0.0.1",
    ]


def _kubelet(root: Path, tmp_path: Path, *argv: str) -> subprocess.Popen[bytes]:
    release = build("v1.32.0", tmp_path / "release")
    env = {"PATH": "/usr/bin:/bin", "KUBEXMS_DOUBLE_ROOT": str(root)}
    log = (tmp_path / "kubelet.log").open("wb")
    return subprocess.Popen([str(release.path), *argv], env=env, stdout=log, stderr=log)


def test_unknown_flags_and_fields_are_refused(tmp_path: Path, api: LocalApi) -> None:
    root = _root(tmp_path, api)
    process = _kubelet(root, tmp_path, *_flags("n1"), "--no-such-flag=1")
    assert process.wait(timeout=30) == 1
    assert "unknown flag: --no-such-flag" in (tmp_path / "kubelet.log").read_text()
    config = yaml.safe_load((root / "var/lib/kubelet/config.yaml").read_text())
    config["cgroupDriverr"] = "systemd"
    (root / "var/lib/kubelet/config.yaml").write_text(yaml.safe_dump(config))
    process = _kubelet(root, tmp_path, *_flags("n1"))
    assert process.wait(timeout=30) == 1
    assert 'unknown field "cgroupDriverr"' in (tmp_path / "kubelet.log").read_text()


def test_without_its_config_it_exits_as_the_real_one(tmp_path: Path, api: LocalApi) -> None:
    root = _root(tmp_path, api)
    (root / "var/lib/kubelet/config.yaml").unlink()
    process = _kubelet(root, tmp_path, *_flags("n1"))
    assert process.wait(timeout=30) == 1
    assert "failed to load kubelet config file" in (tmp_path / "kubelet.log").read_text()


def test_tls_bootstrap_then_the_node_registers(tmp_path: Path, api: LocalApi) -> None:
    admin = from_kubeconfig(api.kubeconfig())
    admin.put_object("/api/v1/namespaces/kube-system/secrets",
                     token_secret_object({"token": TOKEN.value, "ttl": "1h"}))  # fmt: skip
    rbac.bootstrap_token_rbac(admin)  # what kubeadm init binds for its tokens
    signer = subprocess.Popen(
        [str(SYSTEM_PYTHON), "-m", "kubeadm_double.standins", "kube-controller-manager",
         f"--kubeconfig={api.kubeconfig('controller-manager.conf')}",
         f"--cluster-signing-cert-file={api.pki / 'ca.crt'}",
         f"--cluster-signing-key-file={api.pki / 'ca.key'}"],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(DOUBLES)},
    )  # fmt: skip
    root = _root(tmp_path, api)
    kubelet = _kubelet(root, tmp_path, *_flags("bootstrapped"))
    try:
        deadline = time.monotonic() + 60
        node = None
        while time.monotonic() < deadline and node is None:
            assert kubelet.poll() is None, (tmp_path / "kubelet.log").read_text()
            done = api.kubectl("get", "node", "bootstrapped", "-o", "json", check=False)
            if done.returncode == 0:
                node = json.loads(done.stdout)
            time.sleep(0.5)
        assert node is not None, (tmp_path / "kubelet.log").read_text()
        kubeconfig_file = root / "etc/kubernetes/kubelet.conf"
        assert oct(os.stat(kubeconfig_file).st_mode & 0o777) == "0o600"
        assert "client-certificate: /var/lib/kubelet/pki/kubelet-client-current.pem" in (
            kubeconfig_file.read_text()
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not node.get("status", {}).get("conditions"):
            time.sleep(0.5)
            node = json.loads(api.kubectl("get", "node", "bootstrapped", "-o", "json").stdout)
        ready = {c["type"]: c for c in node["status"]["conditions"]}["Ready"]
        assert ready["status"] == "False"  # no CNI configuration yet
        assert "cni plugin not initialized" in ready["message"]
        csrs = json.loads(api.kubectl("get", "csr", "-o", "json").stdout)["items"]
        assert any(c["status"].get("certificate") for c in csrs)
    finally:
        for process in (kubelet, signer):
            process.terminate()
            process.wait(timeout=20)
