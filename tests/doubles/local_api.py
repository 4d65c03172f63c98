"""A control plane on loopback for unit-level tests: a real etcd (Debian's etcd-server) with the
cluster PKI's certificates, kube-apiserver doubles in front of it, and the real kubectl.

    with local_api(tmp_path) as api:
        api.kubectl("apply", "--server-side", "--field-manager=t", "-f", str(manifest))
        second = api.start_apiserver()      # another double on the same etcd

Everything started here is stopped by its PID when the block ends.
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kubexms.config import Cluster, parse_config
from kubexms.pki import PkiOptions, generate_pki
from tests.doubles import SYSTEM_PYTHON, double_script, real_kubectl
from tests.doubles.kubeadm_double.pki import client_certificate

CALICO_MANIFEST = Path(__file__).parents[1] / "unit" / "cni" / "fixtures" / "calico-v3.29.7.yaml"

CLUSTER: dict[str, Any] = {
    "apiVersion": "kubexms.io/v1alpha1",
    "kind": "Cluster",
    "metadata": {"name": "doubles"},
    "spec": {
        "hosts": [{"name": "node1", "address": "127.0.0.1"}],
        "roleGroups": {"master": ["node1"], "etcd": ["node1"], "worker": ["node1"]},
        "controlPlaneEndpoint": {"address": "127.0.0.1"},
        "network": {"kubeServiceCIDR": "10.96.0.0/16", "kubePodsCIDR": "10.244.0.0/16"},
    },
}
START_TIMEOUT = 30.0
CLUSTER_ADMINS_BINDING: dict[str, Any] = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "ClusterRoleBinding",
    "metadata": {"name": "kubeadm:cluster-admins"},
    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                "name": "cluster-admin"},
    "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                  "name": "kubeadm:cluster-admins"}],
}  # fmt: skip
"""What kubeadm init binds (with super-admin.conf) so that admin.conf's group may act."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def local_cluster() -> Cluster:
    return parse_config(yaml.safe_dump(CLUSTER), source="cluster.yaml")


def apiserver_flags(pki: Path, etcd_url: str, port: int) -> list[str]:
    """The flags kubeadm's static-pod manifest gives kube-apiserver, for this PKI on loopback."""
    return [
        "--advertise-address=127.0.0.1", "--bind-address=127.0.0.1", f"--secure-port={port}",
        "--allow-privileged=true", "--authorization-mode=Node,RBAC",
        f"--client-ca-file={pki / 'ca.crt'}", "--enable-admission-plugins=NodeRestriction",
        "--enable-bootstrap-token-auth=true", f"--etcd-cafile={pki / 'etcd' / 'ca.crt'}",
        f"--etcd-certfile={pki / 'apiserver-etcd-client.crt'}",
        f"--etcd-keyfile={pki / 'apiserver-etcd-client.key'}", f"--etcd-servers={etcd_url}",
        f"--kubelet-client-certificate={pki / 'apiserver-kubelet-client.crt'}",
        f"--kubelet-client-key={pki / 'apiserver-kubelet-client.key'}",
        "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
        f"--proxy-client-cert-file={pki / 'front-proxy-client.crt'}",
        f"--proxy-client-key-file={pki / 'front-proxy-client.key'}",
        "--requestheader-allowed-names=front-proxy-client",
        f"--requestheader-client-ca-file={pki / 'front-proxy-ca.crt'}",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-username-headers=X-Remote-User",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={pki / 'sa.pub'}",
        f"--service-account-signing-key-file={pki / 'sa.key'}",
        "--service-cluster-ip-range=10.96.0.0/16",
        f"--tls-cert-file={pki / 'apiserver.crt'}",
        f"--tls-private-key-file={pki / 'apiserver.key'}",
    ]  # fmt: skip


@dataclass
class LocalApi:
    directory: Path
    pki: Path
    etcd_url: str
    kubectl_path: Path
    etcd_process: subprocess.Popen[bytes]
    ports: list[int] = field(default_factory=list)
    _stack: ExitStack = field(default_factory=ExitStack)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.ports[0]}"

    def kubeconfig(self, name: str = "admin.conf", port: int | None = None) -> Path:
        """A copy of the PKI's kubeconfig ``name`` pointing at the double on ``port``."""
        document = yaml.safe_load((self.pki / "kubeconfig" / name).read_text())
        document["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{port or self.ports[0]}"
        path = self.directory / f"{port or self.ports[0]}-{name}"
        path.write_text(yaml.safe_dump(document))
        path.chmod(0o600)
        return path

    def kubectl(self, *args: str, kubeconfig: Path | None = None, check: bool = True,
                timeout: float = 60) -> subprocess.CompletedProcess[str]:  # fmt: skip
        done = subprocess.run(
            [str(self.kubectl_path), f"--kubeconfig={kubeconfig or self.kubeconfig()}", *args],
            capture_output=True, text=True, timeout=timeout, check=False,
            env={"PATH": "/usr/bin:/bin", "HOME": str(self.directory)},
        )  # fmt: skip
        if check:
            assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}{done.stdout}"
        return done

    def client_context(self, kubeconfig: str | None = "admin.conf") -> ssl.SSLContext:
        """TLS to the doubles as the client of ``kubeconfig`` (None: no client certificate)."""
        context = ssl.create_default_context(cafile=str(self.pki / "ca.crt"))
        if kubeconfig:
            user = yaml.safe_load((self.pki / "kubeconfig" / kubeconfig).read_text())["users"][0]
            cert = self.directory / f"{kubeconfig}.crt"
            key = self.directory / f"{kubeconfig}.key"
            cert.write_bytes(base64.b64decode(user["user"]["client-certificate-data"]))
            key.write_bytes(base64.b64decode(user["user"]["client-key-data"]))
            key.chmod(0o600)
            context.load_cert_chain(cert, key)
        return context

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        client: str | None = "admin.conf",
        headers: dict[str, str] | None = None,
        port: int | None = None,
    ) -> tuple[int, bytes]:
        """One HTTPS request to a double as the client of the PKI kubeconfig ``client``."""
        connection = http.client.HTTPSConnection(
            "127.0.0.1", port or self.ports[0], context=self.client_context(client), timeout=10
        )
        try:
            payload = body if isinstance(body, bytes | None) else json.dumps(body).encode()
            connection.request(
                method, path, payload, {"Content-Type": "application/json", **(headers or {})}
            )
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def node_kubeconfig(self, node: str) -> str:
        """The name of a PKI kubeconfig for the kubelet of ``node`` (``system:node:<node>`` in
        ``system:nodes``, signed by the cluster CA), made beside the PKI's own when missing:
        NodeRestriction lets a kubelet write its own Node only."""
        name = f"kubelet-{node}.conf"
        path = self.pki / "kubeconfig" / name
        if not path.exists():
            ca = x509.load_pem_x509_certificate((self.pki / "ca.crt").read_bytes())
            ca_key = serialization.load_pem_private_key(
                (self.pki / "ca.key").read_bytes(), password=None
            )
            cert, key = client_certificate(ca, ca_key, f"system:node:{node}", "system:nodes")
            document = yaml.safe_load((self.pki / "kubeconfig" / "kubelet-node1.conf").read_text())
            document["users"][0]["user"] = {
                "client-certificate-data": base64.b64encode(cert).decode(),
                "client-key-data": base64.b64encode(key).decode(),
            }
            path.write_text(yaml.safe_dump(document))
            path.chmod(0o600)
        return name

    def register_node(self, node: str, ready: str = "True", *, age: float = 0.0) -> None:
        """What a kubelet double does (tests/doubles/README.md): register the Node with its
        kubelet's client certificate, then post its Ready condition (heartbeat ``age`` s old)."""
        kubelet = self.node_kubeconfig(node)
        document = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": node,
                "labels": {"kubernetes.io/os": "linux", "kubernetes.io/hostname": node},
            },
        }
        code, answer = self.request("POST", "/api/v1/nodes", document, client=kubelet)
        assert code in (201, 409), answer
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - age))
        condition = {
            "type": "Ready",
            "status": ready,
            "reason": "KubeletReady" if ready == "True" else "KubeletNotReady",
            "message": "",
            "lastHeartbeatTime": stamp,
            "lastTransitionTime": stamp,
        }
        code, answer = self.request(
            "PATCH",
            f"/api/v1/nodes/{node}/status",
            {"status": {"conditions": [condition]}},
            client=kubelet,
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert code == 200, answer

    def bind_cluster_admins(self) -> None:
        """The ``kubeadm:cluster-admins`` ClusterRoleBinding (to cluster-admin) made with
        super-admin.conf (``system:masters``), as kubeadm init makes it: until it exists,
        admin.conf (group ``kubeadm:cluster-admins``) may do nothing."""
        binding = CLUSTER_ADMINS_BINDING
        path = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings"
        code, answer = self.request("POST", path, binding, client="super-admin.conf")
        assert code in (201, 409), answer

    def start_apiserver(self, *extra: str, env: dict[str, str] | None = None) -> int:
        """Another double on the same etcd; its port once it answers /readyz."""
        port = free_port()
        log = (self.directory / f"apiserver-{port}.log").open("wb")
        self._stack.callback(log.close)
        process = subprocess.Popen(
            [str(SYSTEM_PYTHON), str(double_script("kube-apiserver")),
             *apiserver_flags(self.pki, self.etcd_url, port), *extra],
            stdout=log, stderr=subprocess.STDOUT, env=env or {"PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        self._stack.callback(_stop, process)
        _wait_listening(port, process, self.directory / f"apiserver-{port}.log")
        self.ports.append(port)
        return port


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.kill()
    process.wait()


def _wait_listening(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the process on port {port} exited {process.returncode}: "
                        f"{log.read_text()}", pytrace=False)  # fmt: skip
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"nothing listens on port {port} after {START_TIMEOUT} s: {log.read_text()}",
                pytrace=False)  # fmt: skip


def start_etcd(pki: Path, directory: Path, stack: ExitStack) -> tuple[str, subprocess.Popen[bytes]]:
    """A one-member etcd over TLS with client-certificate authentication: its client URL and
    process."""
    client_port, peer_port = free_port(), free_port()
    client, peer = f"https://127.0.0.1:{client_port}", f"https://127.0.0.1:{peer_port}"
    etcd_pki = pki / "etcd"
    log_path = directory / "etcd.log"
    log = log_path.open("wb")
    stack.callback(log.close)
    process = subprocess.Popen(
        [
            "etcd", "--name", "node1", "--data-dir", str(directory / "etcd-data"),
            "--listen-client-urls", client, "--advertise-client-urls", client,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", f"node1={peer}",
            "--cert-file", str(etcd_pki / "server-node1.crt"),
            "--key-file", str(etcd_pki / "server-node1.key"),
            "--client-cert-auth", "--trusted-ca-file", str(etcd_pki / "ca.crt"),
            "--peer-cert-file", str(etcd_pki / "peer-node1.crt"),
            "--peer-key-file", str(etcd_pki / "peer-node1.key"),
            "--peer-client-cert-auth", "--peer-trusted-ca-file", str(etcd_pki / "ca.crt"),
        ],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    stack.callback(_stop, process)
    _wait_listening(client_port, process, log_path)
    return client, process


@contextmanager
def local_api(
    directory: Path, kubernetes: str = "1.32", *, admins: bool = True
) -> Iterator[LocalApi]:
    """A PKI for ``CLUSTER`` (ECDSA keys: cheap), an etcd and one apiserver double (with the
    ``kubeadm:cluster-admins`` binding unless ``admins`` is false)."""
    if not Path("/usr/bin/etcd").exists():
        pytest.fail("etcd is not installed (Debian package etcd-server)", pytrace=False)
    pki = directory / "pki"
    if not pki.exists():
        generate_pki(local_cluster(), pki, options=PkiOptions(key_type="ecdsa"))
    with ExitStack() as stack:
        etcd_url, etcd = start_etcd(pki, directory, stack)
        api = LocalApi(directory, pki, etcd_url, real_kubectl(kubernetes), etcd)
        stack.enter_context(api._stack)
        api.start_apiserver()
        if admins:
            api.bind_cluster_admins()
        yield api


def calico_objects(directory: Path, node_selector: dict[str, str] | None = None) -> Path:
    """``directory/calico.yaml``: calico's ConfigMap and calico-node DaemonSet from the upstream
    manifest (its pod template's ``nodeSelector`` replaced when given), what a kubelet double's
    install-cni reads."""
    wanted = []
    for document in yaml.safe_load_all(CALICO_MANIFEST.read_text()):
        if not document:
            continue
        kind, name = document["kind"], document["metadata"]["name"]
        if (kind, name) in (("ConfigMap", "calico-config"), ("DaemonSet", "calico-node")):
            if kind == "DaemonSet" and node_selector is not None:
                document["spec"]["template"]["spec"]["nodeSelector"] = node_selector
            wanted.append(document)
    path = directory / "calico.yaml"
    path.write_text(yaml.safe_dump_all(wanted))
    return path


def csr_request(common_name: str) -> str:
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:nodes"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    key = ec.generate_private_key(ec.SECP256R1())
    request = (
        x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    )
    return base64.b64encode(request.public_bytes(serialization.Encoding.PEM)).decode()


def kubelet_csr(common_name: str) -> dict[str, Any]:
    """A kubelet client certificate request for ``common_name`` (``O=system:nodes``), as the
    kubelet posts it (``generateName``)."""
    return {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"generateName": "csr-"},
        "spec": {
            "request": csr_request(common_name),
            "signerName": "kubernetes.io/kube-apiserver-client-kubelet",
            "usages": ["digital signature", "client auth"],
        },
    }
