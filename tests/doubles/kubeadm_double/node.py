"""What kubeadm does on a control-plane node: checks the PKI and kubeconfigs in place, writes the
kubelet's files, starts the kubelet, waits for the API server and uploads the cluster's
configuration."""

from __future__ import annotations

import base64
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from . import pki
from ._core import ApiError, Client, host, write
from .common import CONF, KUBELET_DIR, KubeadmError, configmap


def check_certificates(cluster: dict[str, Any], advertise: str, node: str) -> bytes:
    """The PKI kubeadm finds in place (see pki); returns the CA's PEM."""
    directory = host(cluster.get("certificatesDir", f"{CONF}/pki"))
    ca = pki.check_pair(directory, "ca", None)
    front_ca = pki.check_pair(directory, "front-proxy-ca", None)
    apiserver = pki.check_pair(directory, "apiserver", ca)
    endpoint_host = cluster["controlPlaneEndpoint"].rsplit(":", 1)[0].strip("[]")
    pki.require_sans(apiserver, "apiserver", [endpoint_host, advertise, "kubernetes.default"])
    pki.check_pair(directory, "apiserver-kubelet-client", ca)
    pki.check_pair(directory, "front-proxy-client", front_ca)
    pki.check_public_pair(directory, "sa")
    etcd = cluster.get("etcd") or {}
    if "external" in etcd:
        external = etcd["external"]
        for key in ("caFile", "certFile", "keyFile"):
            if not host(external[key]).is_file():
                raise pki.PkiError(f"external etcd {key} {external[key]} does not exist")
    else:
        etcd_ca = pki.check_pair(directory, "etcd/ca", None)
        pki.check_pair(directory, "apiserver-etcd-client", etcd_ca)
        server = pki.check_pair(directory, "etcd/server", etcd_ca)
        pki.require_sans(server, "etcd/server", [advertise, node, "127.0.0.1"])
        pki.check_pair(directory, "etcd/peer", etcd_ca)
        pki.check_pair(directory, "etcd/healthcheck-client", etcd_ca)
    return (directory / "ca.crt").read_bytes()


def kubeconfigs(
    cluster: dict[str, Any], ca_pem: bytes, node: str, local: str, names: tuple[str, ...], out: Path
) -> None:
    """Check the kubeconfigs in place; make the missing ones (client certificate from ca.key)."""
    endpoint = f"https://{cluster['controlPlaneEndpoint']}"
    users = {
        "admin": ("kubernetes-admin", "kubeadm:cluster-admins", endpoint),
        "super-admin": ("kubernetes-super-admin", "system:masters", endpoint),
        "kubelet": (f"system:node:{node}", "system:nodes", endpoint),
        "controller-manager": ("system:kube-controller-manager", None, local),
        "scheduler": ("system:kube-scheduler", None, local),
    }
    directory = host(cluster.get("certificatesDir", f"{CONF}/pki"))
    for name in names:
        path = host(f"{CONF}/{name}.conf")
        user, group, server = users[name]
        if path.exists():
            for warning in pki.check_kubeconfig(path, ca_pem, server):
                print(f"[kubeconfig] WARNING: {warning}", file=sys.stderr)
            print(f"[kubeconfig] Using existing kubeconfig file: {CONF}/{name}.conf")
            continue
        ca = pki.load_cert(directory / "ca.crt")
        cert, key = pki.client_certificate(ca, pki.load_key(directory / "ca.key"), user, group)
        data = pki.kubeconfig(
            server,
            ca_pem,
            cluster.get("clusterName", "kubernetes"),
            user,
            cert_pem=cert,
            key_pem=key,
        )
        write(f"{CONF}/{name}.conf", data, under=out)


def kubelet_files(kubelet: dict[str, Any], registration: dict[str, Any], out: Path) -> None:
    config = {"staticPodPath": f"{CONF}/manifests", **kubelet}
    config.setdefault("apiVersion", "kubelet.config.k8s.io/v1beta1")
    config.setdefault("kind", "KubeletConfiguration")
    config.setdefault("rotateCertificates", True)
    write(f"{KUBELET_DIR}/config.yaml", yaml.safe_dump(config).encode(), 0o644, under=out)
    args = {
        "container-runtime-endpoint": registration.get(
            "criSocket", "unix:///var/run/containerd/containerd.sock"
        )
    }
    if registration.get("name"):
        args["hostname-override"] = registration["name"]
    for item in registration.get("kubeletExtraArgs") or []:
        args[item["name"]] = item["value"]
    line = " ".join(f"--{k}={v}" for k, v in sorted(args.items()))
    write(
        f"{KUBELET_DIR}/kubeadm-flags.env",
        f'KUBELET_KUBEADM_ARGS="{line}"\n'.encode(),
        0o644,
        under=out,
    )


def start_kubelet() -> None:
    print("[kubelet-start] Starting the kubelet")
    result = subprocess.run(
        ["systemctl", "restart", "kubelet"], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise KubeadmError(f"couldn't start the kubelet: {result.stderr.strip()}")


def admin_client(path: str) -> Client:
    """The client of a kubeconfig kubeadm uses for its API calls (retried for two minutes)."""
    found = pki.read_kubeconfig(host(path))
    user = found["user"]
    client = Client(
        found["server"],
        found["ca"],
        cert_pem=base64.b64decode(user["client-certificate-data"]),
        key_pem=base64.b64decode(user["client-key-data"]),
    )
    client.retry_seconds = 120.0
    return client


def client_credentials(path: str) -> dict[str, Any]:
    user = pki.read_kubeconfig(host(path))["user"]
    return {
        "cert_pem": base64.b64decode(user["client-certificate-data"]),
        "key_pem": base64.b64decode(user["client-key-data"]),
    }


def wait_healthy(client: Client, seconds: float) -> None:
    print(f"[wait-control-plane] Waiting for the API server to be healthy (up to {seconds:g}s)")
    deadline = time.monotonic() + seconds
    last = ""
    while time.monotonic() < deadline:
        try:
            client.request("GET", "/healthz", timeout=5)
            return
        except (ApiError, ValueError) as error:
            last = str(error)
        time.sleep(1)
    raise KubeadmError(f"the API server is not healthy after {seconds:g}s: {last}")


def mark_control_plane(client: Client, node: str, taints: list[dict[str, Any]]) -> None:
    """Label (and taint) the node as kubeadm's mark-control-plane phase does, once the kubelet
    registered it."""
    deadline = time.monotonic() + 120
    while True:
        try:
            client.get(f"/api/v1/nodes/{node}")
            break
        except ApiError as error:
            if error.status != 404 or time.monotonic() > deadline:
                raise KubeadmError(f"the node {node} did not register: {error}") from None
            time.sleep(1)
    # A patch, as kubeadm sends: the kubelet's heartbeats change the Node meanwhile.
    labels = {
        "node-role.kubernetes.io/control-plane": "",
        "node.kubernetes.io/exclude-from-external-load-balancers": "",
    }
    client.request_patch(
        f"/api/v1/nodes/{node}", {"metadata": {"labels": labels}, "spec": {"taints": taints}}
    )
    print(f"[mark-control-plane] Marking the node {node} as control-plane")


def upload(
    client: Client, cluster: dict[str, Any], documents: dict[str, Any], ca_pem: bytes
) -> None:
    """kubeadm-config, kubelet-config and cluster-info (unsigned until sign_cluster_info)."""
    client.put_object(
        "/api/v1/namespaces/kube-system/configmaps",
        configmap(
            "kube-system", "kubeadm-config", {"ClusterConfiguration": yaml.safe_dump(cluster)}
        ),
    )
    kubelet = documents.get("KubeletConfiguration", {})
    client.put_object(
        "/api/v1/namespaces/kube-system/configmaps",
        configmap("kube-system", "kubelet-config", {"kubelet": yaml.safe_dump(kubelet)}),
    )
    if "KubeProxyConfiguration" in documents:
        proxy = yaml.safe_dump(documents["KubeProxyConfiguration"])
        client.put_object(
            "/api/v1/namespaces/kube-system/configmaps",
            configmap("kube-system", "kube-proxy", {"config.conf": proxy}),
        )
    info = pki.kubeconfig(f"https://{cluster['controlPlaneEndpoint']}", ca_pem, "", "").decode()
    info_doc = yaml.safe_load(info)
    info_doc["contexts"], info_doc["users"], info_doc["current-context"] = [], [], ""
    client.put_object(
        "/api/v1/namespaces/kube-public/configmaps",
        configmap("kube-public", "cluster-info", {"kubeconfig": yaml.safe_dump(info_doc)}),
    )
    print("[upload-config] Stored the configuration in kube-system and cluster-info in kube-public")
