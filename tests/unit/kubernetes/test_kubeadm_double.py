"""The kubeadm test double is strict where real kubeadm is: its configuration, the PKI it is
given, kubeconfigs already in place, and discovery's CA pin and token signature. (Under a
scratch root with ``--dry-run``; the fleet tests run it for real on hosts.)"""

from __future__ import annotations

import http.server
import json
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubexms.config import Cluster, parse_config
from kubexms.kubernetes import (
    BootstrapToken,
    ca_cert_hash,
    init_documents,
    master_pki_files,
    to_yaml,
)
from kubexms.pki import PkiOptions, generate_pki
from tests.doubles.kubeadm_double import build, pki
from tests.doubles.kubeadm_double.common import KubeadmError
from tests.doubles.kubeadm_double.join import discover
from tests.doubles.kubeadm_double.main import main
from tests.doubles.kubeadm_double.tokens import jws
from tests.unit.config.sample import to_yaml as cluster_yaml
from tests.unit.kubernetes.sample import cluster_data

TOKEN = BootstrapToken("abcdef", "0123456789abcdef")


def _cluster(etcd: str = "kubeadm", endpoint: dict[str, Any] | None = None) -> Cluster:
    return parse_config(cluster_yaml(cluster_data(etcd={"type": etcd}, endpoint=endpoint)))


@pytest.fixture(scope="module")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pki")
    generate_pki(_cluster(), directory, options=PkiOptions(key_type="ecdsa"))
    return directory


@pytest.fixture
def host(tmp_path: Path, pki_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A first master's root with the cluster PKI placed as the control-plane phase places it."""
    root = tmp_path / "root"
    cluster = _cluster()
    for item in master_pki_files(cluster, "master1"):
        dest = root / item.dest.lstrip("/")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(pki_dir / item.source_for("master1"), dest)
    (root / "run/containerd").mkdir(parents=True)
    (root / "run/containerd/containerd.sock").write_text("")
    (root / "init.yaml").write_text(to_yaml(init_documents(cluster, TOKEN)))
    monkeypatch.setenv("KUBEXMS_DOUBLE_ROOT", str(root))
    return root


def _init(root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, Path | None]:
    code = main(["init", "--config", str(root / "init.yaml"), "--dry-run", "--skip-token-print"])
    captured = capsys.readouterr()
    out = None
    for line in captured.out.splitlines():
        if "files are in " in line:
            out = Path(line.split("files are in ")[1])
    return code, captured.out + captured.err, out


def test_it_says_it_is_a_double(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"], "v1.32.0") == 0
    assert 'GitVersion:"v1.32.0"' in capsys.readouterr().out
    assert main(["version", "-o", "short"], "v1.32.0") == 0
    assert main(["--version"]) == 0
    assert "(kubexms test double)" in capsys.readouterr().out


def test_init_writes_what_kubeadm_writes(host: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, output, out = _init(host, capsys)
    assert code == 0, output
    assert out is not None
    manifests = out / "etc/kubernetes/manifests"
    assert sorted(p.name for p in manifests.iterdir()) == [
        "etcd.yaml",
        "kube-apiserver.yaml",
        "kube-controller-manager.yaml",
        "kube-scheduler.yaml",
    ]
    apiserver = yaml.safe_load((manifests / "kube-apiserver.yaml").read_text())
    command = apiserver["spec"]["containers"][0]["command"]
    assert command[0] == "kube-apiserver"
    assert "--advertise-address=10.213.0.11" in command
    assert "--etcd-servers=https://127.0.0.1:2379" in command
    assert "--tls-cert-file=/etc/kubernetes/pki/apiserver.crt" in command
    etcd = yaml.safe_load((manifests / "etcd.yaml").read_text())["spec"]["containers"][0]
    assert "--initial-cluster=master1=https://10.213.0.11:2380" in etcd["command"]
    flags = (out / "var/lib/kubelet/kubeadm-flags.env").read_text()
    assert "--node-ip=10.213.0.11" in flags
    config = yaml.safe_load((out / "var/lib/kubelet/config.yaml").read_text())
    assert config["cgroupDriver"] == "systemd"
    assert config["staticPodPath"] == "/etc/kubernetes/manifests"
    # Kubeconfigs kubexms placed are used, not remade.
    assert "Using existing kubeconfig file: /etc/kubernetes/admin.conf" in output
    assert not (out / "etc/kubernetes/admin.conf").exists()


def test_an_unknown_field_is_refused(host: Path, capsys: pytest.CaptureFixture[str]) -> None:
    documents = list(yaml.safe_load_all((host / "init.yaml").read_text()))
    documents[1]["networking"]["podCIDR"] = "10.0.0.0/8"
    (host / "init.yaml").write_text(yaml.safe_dump_all(documents))
    code, output, _ = _init(host, capsys)
    assert code == 1
    assert "strict decoding error" in output
    assert 'unknown field "networking.podCIDR"' in output


def test_flags_that_belong_in_the_config_cannot_be_mixed_in(
    host: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", "--config", str(host / "init.yaml"), "--token", "x"]) == 1
    assert "can not mix '--config' with arguments [token]" in capsys.readouterr().err


def test_an_endpoint_the_api_server_certificate_does_not_name_is_refused(
    host: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    documents = list(yaml.safe_load_all((host / "init.yaml").read_text()))
    documents[1]["controlPlaneEndpoint"] = "elsewhere.example:6443"
    (host / "init.yaml").write_text(yaml.safe_dump_all(documents))
    code, output, _ = _init(host, capsys)
    assert code == 1
    assert "certificate apiserver is invalid" in output
    assert "not elsewhere.example" in output


def test_a_key_that_does_not_match_its_certificate_is_refused(
    host: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pki_on_host = host / "etc/kubernetes/pki"
    shutil.copy(pki_on_host / "front-proxy-client.key", pki_on_host / "apiserver.key")
    code, output, _ = _init(host, capsys)
    assert code == 1
    assert "apiserver.key does not match" in output


def test_a_missing_ca_key_is_refused_not_generated(
    host: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (host / "etc/kubernetes/pki/ca.key").unlink()
    code, output, _ = _init(host, capsys)
    assert code == 1
    assert "ca.key: no such file" in output


def test_a_kubeconfig_of_another_ca_is_refused(
    host: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other"
    generate_pki(_cluster(), other, options=PkiOptions(key_type="ecdsa"))
    shutil.copy(other / "kubeconfig/admin.conf", host / "etc/kubernetes/admin.conf")
    code, output, _ = _init(host, capsys)
    assert code == 1
    assert "exists already but has got the wrong CA cert" in output


def test_an_initialised_host_is_refused(host: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = host / "etc/kubernetes/manifests/kube-apiserver.yaml"
    manifest.parent.mkdir(parents=True)
    manifest.write_text("{}")
    code, output, _ = _init(host, capsys)
    assert code == 1
    assert "[ERROR FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml]" in output


class _ClusterInfo(http.server.BaseHTTPRequestHandler):
    body: bytes = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.body if "cluster-info" in self.path else b'{"major": "1"}')

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def endpoint(pki_dir: Path) -> Iterator[str]:
    """An HTTPS endpoint with the cluster's API server certificate serving cluster-info signed
    with TOKEN."""
    ca_pem = (pki_dir / "ca.crt").read_bytes()
    info = pki.kubeconfig("https://127.0.0.1:6443", ca_pem, "", "").decode()
    data = {"kubeconfig": info, "jws-kubeconfig-abcdef": jws(info, "abcdef", "0123456789abcdef")}
    handler = type("Handler", (_ClusterInfo,), {"body": json.dumps({"data": data}).encode()})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki_dir / "apiserver.crt", pki_dir / "apiserver.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_discovery_checks_the_pin_and_the_token_signature(endpoint: str, pki_dir: Path) -> None:
    pin = ca_cert_hash((pki_dir / "ca.crt").read_bytes())
    token = {"token": TOKEN.value, "apiServerEndpoint": endpoint, "caCertHashes": [pin]}
    server, ca_pem, token_id, _ = discover({"bootstrapToken": token})
    assert (server, token_id) == (f"https://{endpoint}", "abcdef")
    assert ca_pem == (pki_dir / "ca.crt").read_bytes()
    with pytest.raises(KubeadmError, match="none of the public keys"):
        discover({"bootstrapToken": {**token, "caCertHashes": ["sha256:" + "0" * 64]}})
    with pytest.raises(KubeadmError, match="failed to verify JWS signature"):
        discover({"bootstrapToken": {**token, "token": "abcdef.ffffffffffffffff"}})
    with pytest.raises(KubeadmError, match="no JWS signed token"):
        discover({"bootstrapToken": {**token, "token": "zzzzzz.0123456789abcdef"}})


def test_the_release_file_runs_the_double_with_the_hosts_python(tmp_path: Path) -> None:
    for binary, argv, expected in (
        ("kubeadm", ["version", "-o", "short"], "v1.33.6\n"),
        ("kubelet", ["--version"], "Kubernetes v1.33.6 (kubexms test double)\n"),
    ):
        release = build(binary, "v1.33.6", tmp_path)
        assert release.path.read_bytes().startswith(b"#!/usr/bin/python3\n")
        result = subprocess.run(
            [str(release.path), *argv], capture_output=True, text=True, check=False
        )
        assert (result.returncode, result.stdout) == (0, expected), result.stderr
