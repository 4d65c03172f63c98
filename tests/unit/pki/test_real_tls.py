"""The certificates work where they are used: real TLS on loopback, OpenSSL's and etcd's (Go).

The API server certificate is served by ``openssl s_server`` and checked by ``s_client``
against the names and addresses clients use, with a kubeconfig's client certificate required;
etcd is started with a host's server and peer certificates and asked by ``etcdctl`` with the
API server's and the health check's client certificates.
"""

from __future__ import annotations

import base64
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

ETCD_MISSING = shutil.which("etcd") is None or shutil.which("etcdctl") is None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def client_files(pki_dir: Path, kubeconfig: str, target: Path) -> tuple[Path, Path]:
    document = yaml.safe_load((pki_dir / "kubeconfig" / kubeconfig).read_text())
    user = document["users"][0]["user"]
    cert, key = target / "client.crt", target / "client.key"
    cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
    key.write_bytes(base64.b64decode(user["client-key-data"]))
    key.chmod(0o600)
    return cert, key


@pytest.fixture
def apiserver_tls(pki_dir: Path) -> Iterator[int]:
    """An ``openssl s_server`` with the apiserver certificate, requiring a client certificate."""
    port = free_port()
    # Started by this test and stopped by its PID below.
    server = subprocess.Popen(
        [
            "openssl", "s_server", "-accept", f"127.0.0.1:{port}",
            "-cert", str(pki_dir / "apiserver.crt"), "-key", str(pki_dir / "apiserver.key"),
            "-CAfile", str(pki_dir / "ca.crt"), "-Verify", "1", "-verify_return_error", "-www",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        for line in server.stdout:  # "ACCEPT" once it listens
            if line.strip() == "ACCEPT":
                break
        yield port
    finally:
        server.kill()
        server.wait()


def s_client(port: int, pki_dir: Path, cert: Path, key: Path, *check: str) -> str:
    done = subprocess.run(
        [
            "openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-brief", "-ign_eof",
            "-CAfile", str(pki_dir / "ca.crt"), "-verify_return_error",
            "-cert", str(cert), "-key", str(key), *check,
        ],
        input="GET / HTTP/1.0\r\n\r\n",
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )  # fmt: skip
    return done.stdout + done.stderr


@pytest.mark.parametrize(
    "check",
    [
        ["-verify_hostname", "kubernetes.default.svc.corp.local"],
        ["-verify_hostname", "lb.kubexms.local"],
        ["-verify_ip", "10.96.0.1"],
        ["-verify_ip", "192.168.7.12"],
    ],
)
def test_apiserver_serves_the_names_clients_use(
    apiserver_tls: int, pki_dir: Path, tmp_path: Path, check: list[str]
) -> None:
    cert, key = client_files(pki_dir, "admin.conf", tmp_path)
    output = s_client(apiserver_tls, pki_dir, cert, key, *check)
    assert "Verification: OK" in output, output
    assert "HTTP/1.0 200 ok" in output, output


def test_apiserver_certificate_does_not_claim_other_names(
    apiserver_tls: int, pki_dir: Path, tmp_path: Path
) -> None:
    cert, key = client_files(pki_dir, "admin.conf", tmp_path)
    output = s_client(apiserver_tls, pki_dir, cert, key, "-verify_hostname", "evil.example.com")
    assert "Verification: OK" not in output
    assert "hostname mismatch" in output, output


def test_apiserver_refuses_a_client_of_another_ca(
    apiserver_tls: int, pki_dir: Path, tmp_path: Path
) -> None:
    output = s_client(
        apiserver_tls,
        pki_dir,
        pki_dir / "front-proxy-client.crt",
        pki_dir / "front-proxy-client.key",
    )
    assert "HTTP/1.0 200 ok" not in output
    assert "alert unknown ca" in output, output


@pytest.mark.skipif(ETCD_MISSING, reason="etcd and etcdctl are not installed")
def test_etcd_runs_with_a_hosts_certificates_and_trusts_the_etcd_clients(
    pki_dir: Path, tmp_path: Path
) -> None:
    client_port, peer_port = free_port(), free_port()
    client_url, peer_url = f"https://127.0.0.1:{client_port}", f"https://127.0.0.1:{peer_port}"
    etcd_pki = pki_dir / "etcd"
    log = (tmp_path / "etcd.log").open("wb")
    # Started by this test and stopped by its PID below.
    etcd = subprocess.Popen(
        [
            "etcd", "--name", "node1", "--data-dir", str(tmp_path / "data"),
            "--listen-client-urls", client_url, "--advertise-client-urls", client_url,
            "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
            "--initial-cluster", f"node1={peer_url}",
            "--cert-file", str(etcd_pki / "server-node1.crt"),
            "--key-file", str(etcd_pki / "server-node1.key"),
            "--client-cert-auth", "--trusted-ca-file", str(etcd_pki / "ca.crt"),
            "--peer-cert-file", str(etcd_pki / "peer-node1.crt"),
            "--peer-key-file", str(etcd_pki / "peer-node1.key"),
            "--peer-client-cert-auth", "--peer-trusted-ca-file", str(etcd_pki / "ca.crt"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip

    def health(cert: Path, key: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                "etcdctl", "--endpoints", client_url, "--cacert", str(etcd_pki / "ca.crt"),
                "--cert", str(cert), "--key", str(key), "--dial-timeout", "3s",
                "endpoint", "health",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            env={"ETCDCTL_API": "3", "PATH": "/usr/bin:/bin"},
            check=False,
        )  # fmt: skip

    try:
        as_apiserver = health(
            pki_dir / "apiserver-etcd-client.crt", pki_dir / "apiserver-etcd-client.key"
        )
        for _ in range(60):
            if as_apiserver.returncode == 0 or etcd.poll() is not None:
                break
            time.sleep(0.5)
            as_apiserver = health(
                pki_dir / "apiserver-etcd-client.crt", pki_dir / "apiserver-etcd-client.key"
            )
        assert as_apiserver.returncode == 0, (
            as_apiserver.stderr + (tmp_path / "etcd.log").read_text()
        )
        assert "is healthy" in as_apiserver.stdout + as_apiserver.stderr
        as_probe = health(etcd_pki / "healthcheck-client.crt", etcd_pki / "healthcheck-client.key")
        assert as_probe.returncode == 0, as_probe.stderr
        stranger = health(pki_dir / "front-proxy-client.crt", pki_dir / "front-proxy-client.key")
        assert stranger.returncode != 0
    finally:
        etcd.kill()
        etcd.wait()
        log.close()
