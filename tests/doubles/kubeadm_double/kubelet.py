"""kubelet (test double), run by the real ``kubelet.service`` and kubeadm's drop-in.

It accepts the real kubelet's flags (those the drop-in, ``kubeadm-flags.env`` and a user's
``KUBELET_EXTRA_ARGS`` give), reads ``--config`` strictly against the KubeletConfiguration
schema of its minor (and exits like the real one while that file is missing: kubeadm writes it
and restarts the unit), authenticates with ``--kubeconfig`` or, when only
``--bootstrap-kubeconfig`` exists, performs the TLS bootstrap (a CSR made with the bootstrap
token, signed by the controller-manager stand-in, then ``kubelet.conf`` written), registers its
Node over TLS and heartbeats it, and "runs" the static pods of ``staticPodPath``: each
manifest's command with a host binary standing in for its image (see ``static_pods``), and
the CNI DaemonSet's install-cni init container once that DaemonSet exists (see ``cni``).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import platform
import signal
import socket
import sys
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ._core import ApiError, Client, cni, from_kubeconfig, host, schema, write
from .common import minor
from .static_pods import StaticPods

DEFAULT_VERSION = "v1.31.4"
KUBELET_DIR = "/var/lib/kubelet"
HEARTBEAT = 10.0
FLAGS = {
    # flag: takes a value
    "bootstrap-kubeconfig": True,
    "kubeconfig": True,
    "config": True,
    "container-runtime-endpoint": True,
    "image-service-endpoint": True,
    "hostname-override": True,
    "node-ip": True,
    "node-labels": True,
    "register-with-taints": True,
    "pod-infra-container-image": True,
    "root-dir": True,
    "cert-dir": True,
    "runtime-request-timeout": True,
    "provider-id": True,
    "cloud-provider": True,
    "v": True,
    "config-dir": True,
    "version": False,
    "help": False,
    "fail-swap-on": False,
    "rotate-certificates": False,
    "max-pods": True,
    "resolv-conf": True,
    "cgroup-driver": True,
    "address": True,
    "port": True,
}


class KubeletError(Exception):
    """The kubelet cannot run: its message, as the real one logs it before exiting 1."""


def parse_flags(argv: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    index = 0
    while index < len(argv):
        arg = argv[index]
        if not arg.startswith("--"):
            raise KubeletError(f'unknown command {arg!r} for "kubelet"')
        name, has_value, value = arg[2:].partition("=")
        if name not in FLAGS:
            raise KubeletError(f"failed to parse kubelet flag: unknown flag: --{name}")
        if FLAGS[name] and not has_value:
            index += 1
            if index >= len(argv):
                raise KubeletError(f"flag needs an argument: --{name}")
            value = argv[index]
        found[name] = value if FLAGS[name] or has_value else "true"
        index += 1
    return found


def load_config(path: str, version: str) -> dict[str, Any]:
    try:
        text = host(path).read_text()
    except OSError as error:
        raise KubeletError(
            f"failed to load kubelet config file, path: {path}, error: failed to read kubelet "
            f'config file "{path}", error: open {path}: {(error.strerror or "error").lower()}'
        ) from None
    document = yaml.safe_load(text)
    if not isinstance(document, dict):
        raise KubeletError(f"failed to load kubelet config file, path: {path}: not an object")
    problems = schema.check(document, minor(version))
    if problems:
        raise KubeletError(
            f"failed to load kubelet config file, path: {path}, error: "
            f"strict decoding error: {'; '.join(problems)}"
        )
    return document


def node_name(flags: dict[str, str]) -> str:
    return (flags.get("hostname-override") or socket.gethostname()).lower()


def tls_bootstrap(flags: dict[str, str], name: str) -> None:
    """A client certificate for ``system:node:<name>`` through a CSR made with the bootstrap
    token; then ``--kubeconfig`` written pointing at it (as the real kubelet does)."""
    bootstrap = host(flags["bootstrap-kubeconfig"])
    document = yaml.safe_load(bootstrap.read_text())
    client = from_kubeconfig(bootstrap)
    client.retry_seconds = 120.0
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:nodes"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"system:node:{name}"),
        ]
    )
    request = (
        x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    )
    pem = request.public_bytes(serialization.Encoding.PEM)
    csr = {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"generateName": "csr-"},
        "spec": {
            "request": base64.b64encode(pem).decode(),
            "signerName": "kubernetes.io/kube-apiserver-client-kubelet",
            "usages": ["digital signature", "client auth"],
        },
    }
    made = client.request("POST", "/apis/certificates.k8s.io/v1/certificatesigningrequests", csr)
    path = f"/apis/certificates.k8s.io/v1/certificatesigningrequests/{made['metadata']['name']}"
    print(
        f"kubelet: TLS bootstrap: waiting for {made['metadata']['name']} to be signed", flush=True
    )
    deadline = time.monotonic() + 300
    while True:
        certificate = (client.get(path).get("status") or {}).get("certificate")
        if certificate:
            break
        if time.monotonic() > deadline:
            raise KubeletError(f"the CSR {made['metadata']['name']} was not signed within 300s")
        time.sleep(1)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    bundle = base64.b64decode(certificate) + key_pem
    current = f"{KUBELET_DIR}/pki/kubelet-client-current.pem"
    write(current, bundle, 0o600)
    cluster = document["clusters"][0]
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "default-cluster", "cluster": cluster["cluster"]}],
        "contexts": [
            {
                "name": "default-context",
                "context": {
                    "cluster": "default-cluster",
                    "namespace": "default",
                    "user": "default-auth",
                },
            }
        ],
        "current-context": "default-context",
        "preferences": {},
        "users": [
            {"name": "default-auth", "user": {"client-certificate": current, "client-key": current}}
        ],
    }
    write(flags["kubeconfig"], yaml.safe_dump(kubeconfig).encode(), 0o600)


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class NodeAgent:
    """Registers the Node and keeps its status fresh."""

    def __init__(self, client: Client, name: str, flags: dict[str, str], version: str) -> None:
        self.client, self.name, self.flags, self.version = client, name, flags, version
        self.registered = False
        self.transition = _now()
        self.ready: bool | None = None

    def register(self) -> None:
        arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
        labels = {
            "kubernetes.io/hostname": self.name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": arch,
            "beta.kubernetes.io/os": "linux",
            "beta.kubernetes.io/arch": arch,
        }
        for item in filter(None, self.flags.get("node-labels", "").split(",")):
            key, _, value = item.partition("=")
            labels[key] = value
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": self.name, "labels": labels},
        }
        try:
            self.client.request("POST", "/api/v1/nodes", node)
            print(f"kubelet: Successfully registered node {self.name}", flush=True)
        except ApiError as error:
            if error.status != 409:
                raise
        self.registered = True

    def heartbeat(self) -> None:
        ready = cni.configured()
        if ready != self.ready:
            self.ready, self.transition = ready, _now()
        reason, message = (
            ("KubeletReady", "kubelet is posting ready status")
            if ready
            else (
                "KubeletNotReady",
                "container runtime network not ready: NetworkReady=false "
                "reason:NetworkPluginNotReady message:Network plugin returns error: cni "
                "plugin not initialized",
            )
        )
        addresses = [{"type": "Hostname", "address": self.name}]
        if self.flags.get("node-ip"):
            addresses.insert(0, {"type": "InternalIP", "address": self.flags["node-ip"]})
        status = {
            "status": {
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True" if ready else "False",
                        "reason": reason,
                        "message": message,
                        "lastHeartbeatTime": _now(),
                        "lastTransitionTime": self.transition,
                    }
                ],
                "addresses": addresses,
                "nodeInfo": {
                    "kubeletVersion": self.version,
                    "operatingSystem": "linux",
                    "architecture": platform.machine(),
                    "containerRuntimeVersion": "containerd://1.6.20",
                },
            }
        }
        self.client.request_patch(f"/api/v1/nodes/{self.name}/status", status)

    def loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                if not self.registered:
                    self.register()
                cni.install_cni(self.client, self.name)
                self.heartbeat()
            except ApiError as error:
                print(f"kubelet: node status: {error}", file=sys.stderr, flush=True)
            stop.wait(HEARTBEAT)


def unpack_images() -> str:
    """The directory holding what this kubelet's static pods run: the doubles packed in its
    own zipapp, unpacked (once per content) into ``/var/lib/kubelet/kubexms-images``."""
    archive = Path(__file__).resolve().parents[1]
    if not zipfile.is_zipfile(archive):  # run from the checkout: the doubles are beside it
        return str(archive)
    data = archive.read_bytes()
    target = host(f"{KUBELET_DIR}/kubexms-images/{hashlib.sha256(data).hexdigest()[:16]}")
    if not (target / "kube_apiserver.py").exists():
        with zipfile.ZipFile(archive) as bundle:
            bundle.extractall(target)
    return str(target)


def run(argv: list[str], version: str, doubles: str) -> int:
    flags = parse_flags(argv)
    if "version" in flags:
        print(f"Kubernetes {version} (kubexms test double)")
        return 0
    if "help" in flags:
        print("kubelet (kubexms test double); see tests/doubles/kubeadm_double/README.md")
        return 0
    if "config" not in flags:
        raise KubeletError("the kubelet test double needs --config (kubeadm's drop-in gives it)")
    config = load_config(flags["config"], version)
    name = node_name(flags)
    kubeconfig = flags.get("kubeconfig")
    if not kubeconfig:
        raise KubeletError("the kubelet test double needs --kubeconfig")
    if not host(kubeconfig).exists():
        if (
            not flags.get("bootstrap-kubeconfig")
            or not host(flags["bootstrap-kubeconfig"]).exists()
        ):
            raise KubeletError(
                f"unable to load bootstrap kubeconfig: stat "
                f"{flags.get('bootstrap-kubeconfig')}: no such file or directory"
            )
        tls_bootstrap(flags, name)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    doubles = doubles or unpack_images()
    pods = StaticPods(config.get("staticPodPath", ""), doubles, version)
    pods.start(stop)
    agent = NodeAgent(from_kubeconfig(host(kubeconfig), host), name, flags, version)
    threading.Thread(target=agent.loop, args=(stop,), daemon=True).start()
    print(f"kubelet: running as node {name} (kubexms test double)", flush=True)
    stop.wait()
    pods.stop_all()
    return 0


def main(argv: list[str], version: str = DEFAULT_VERSION, doubles: str = "") -> int:
    os.umask(0o022)
    try:
        return run(argv, version, doubles)
    except KubeletError as error:
        print(f"E kubelet: {error}", file=sys.stderr, flush=True)
        return 1
