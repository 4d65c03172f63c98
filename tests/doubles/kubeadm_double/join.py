"""``kubeadm join --config``: discovery (cluster-info, the CA pin, the token's JWS), then the
node's files, the kubelet's TLS bootstrap, and for a control-plane node its manifests and etcd
member."""

from __future__ import annotations

import base64
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509

from . import manifests, pki
from ._core import ApiError, Client, host, root, write
from .common import (
    CONF,
    TOKEN,
    KubeadmError,
    common_preflight,
    dry_run_dir,
    load_config,
    minor,
    parse_duration,
    parse_flags,
    preflight,
)
from .etcd_member import join_etcd
from .node import (
    admin_client,
    check_certificates,
    kubeconfigs,
    kubelet_files,
    mark_control_plane,
    start_kubelet,
)
from .tokens import verify_jws

JOIN_FLAGS = {
    "config": True,
    "skip-phases": True,
    "dry-run": False,
    "ignore-preflight-errors": True,
    "v": True,
}


def discover(discovery: dict[str, Any]) -> tuple[str, bytes, str, str]:
    """kubeadm's token discovery: cluster-info from the endpoint, its CA pinned by
    ``caCertHashes``, its JWS verified with the token; returns server, CA, token id, secret."""
    token = discovery["bootstrapToken"]
    match = TOKEN.match(token["token"])
    if not match:
        raise KubeadmError("the bootstrap token is not of the form [a-z0-9]{6}.[a-z0-9]{16}")
    token_id, token_secret = match.groups()
    server = f"https://{token['apiServerEndpoint']}"
    insecure = Client(server, None)
    deadline = time.monotonic() + parse_duration(discovery.get("timeout", "5m0s"))
    while True:
        try:
            info = insecure.get("/api/v1/namespaces/kube-public/configmaps/cluster-info")
            break
        except ApiError as error:
            if time.monotonic() > deadline:
                raise KubeadmError(
                    f"[discovery] failed to request the cluster-info ConfigMap: {error}"
                ) from None
            time.sleep(2)
    kubeconfig = info["data"]["kubeconfig"]
    signature = info["data"].get(f"jws-kubeconfig-{token_id}")
    if signature is None:
        raise KubeadmError(
            f"[discovery] there is no JWS signed token in the cluster-info ConfigMap. "
            f"This token id {token_id!r} is invalid for this cluster, or it has expired"
        )
    if not verify_jws(signature, kubeconfig, token_id, token_secret):
        raise KubeadmError(
            "[discovery] failed to verify JWS signature of received cluster info object, "
            "can't trust this API Server"
        )
    found = yaml.safe_load(kubeconfig)
    ca_pem = base64.b64decode(found["clusters"][0]["cluster"]["certificate-authority-data"])
    pin = pki.spki_hash(x509.load_pem_x509_certificate(ca_pem))
    pins = token.get("caCertHashes") or []
    if not pins and not token.get("unsafeSkipCAVerification"):
        raise KubeadmError(
            "[discovery] using token-based discovery without caCertHashes can be unsafe"
        )
    if pins and pin not in pins:
        raise KubeadmError(
            f"[discovery] cluster CA found in cluster-info ConfigMap is invalid: none of "
            f'the public keys "{pin}" are pinned'
        )
    # The endpoint itself must serve a certificate of that CA.
    try:
        Client(server, ca_pem).get("/version")
    except ApiError as error:
        if error.status == 0:
            raise KubeadmError(
                f"[discovery] the API server at {server} is not trusted by the pinned CA: {error}"
            ) from None
    return server, ca_pem, token_id, token_secret


@dataclass
class Joining:
    """What every join (and each of its phases) works from: the JoinConfiguration, and what
    discovery found (the cluster's CA and configurations, fetched with the bootstrap token)."""

    join: dict[str, Any]
    registration: dict[str, Any]
    node: str
    control_plane: dict[str, Any] | None
    server: str
    ca_pem: bytes
    token: str
    cluster: dict[str, Any]
    kubelet: dict[str, Any]
    version: str

    @property
    def stacked(self) -> bool:
        return "external" not in (self.cluster.get("etcd") or {})

    @property
    def local_mode(self) -> bool:
        """kubeadm's ControlPlaneKubeletLocalMode: alpha (off) in 1.31-1.32, beta (on) from
        1.33; it decides whether kubelet-start waits for the TLS bootstrap (off) or the
        etcd-join and kubelet-wait-bootstrap phases run (on)."""
        gates = self.cluster.get("featureGates") or {}
        default = tuple(int(p) for p in minor(self.version).split(".")) >= (1, 33)
        return bool(gates.get("ControlPlaneKubeletLocalMode", default))


def read_join_configuration(path: str, version: str) -> dict[str, Any]:
    documents = load_config(path, {"JoinConfiguration"}, version)
    if "JoinConfiguration" not in documents:
        raise KubeadmError("the double expects a JoinConfiguration")
    return documents["JoinConfiguration"]


def joining(join: dict[str, Any], version: str) -> Joining:
    """Discovery (cluster-info, the CA pin, the token's JWS), then the cluster's kubeadm and
    kubelet configurations read with the bootstrap token, as every join phase starts."""
    registration = join.get("nodeRegistration") or {}
    server, ca_pem, token_id, token_secret = discover(join["discovery"])
    print(
        f"[discovery] Cluster info signature and contents are valid and the CA is pinned; "
        f"using API Server {server}"
    )
    token = f"{token_id}.{token_secret}"
    bootstrap = Client(server, ca_pem, token=token)
    bootstrap.retry_seconds = 120.0
    try:
        cluster = yaml.safe_load(
            bootstrap.get("/api/v1/namespaces/kube-system/configmaps/kubeadm-config")["data"][
                "ClusterConfiguration"
            ]
        )
        kubelet = yaml.safe_load(
            bootstrap.get("/api/v1/namespaces/kube-system/configmaps/kubelet-config")["data"][
                "kubelet"
            ]
        )
    except ApiError as error:
        raise KubeadmError(
            f"[preflight] unable to fetch the kubeadm-config ConfigMap: {error}"
        ) from None
    return Joining(
        join=join,
        registration=registration,
        node=registration.get("name") or socket.gethostname(),
        control_plane=join.get("controlPlane"),
        server=server,
        ca_pem=ca_pem,
        token=token,
        cluster=cluster,
        kubelet=kubelet,
        version=version,
    )


def cmd_join(argv: list[str], version: str) -> None:
    flags = parse_flags(argv, JOIN_FLAGS)
    if "config" not in flags:
        raise KubeadmError("the kubeadm test double needs --config (kubexms always gives one)")
    join = read_join_configuration(flags["config"], version)
    registration = join.get("nodeRegistration") or {}
    control_plane = join.get("controlPlane")
    ignored = {i.lower() for i in flags.get("ignore-preflight-errors", "").split(",") if i}
    ports = [10250] + ([6443, 10257, 10259] if control_plane else [])
    errors = common_preflight(registration, ports)
    existing = [f"{CONF}/kubelet.conf", f"{CONF}/bootstrap-kubelet.conf"]
    if control_plane:
        # kubeadm's control-plane preflight: no static pod manifest may be there already.
        existing += [f"{CONF}/manifests/{name}.yaml" for name in CONTROL_PLANE_PODS]
    for path in existing:
        if host(path).exists():
            errors.append(f"[ERROR FileAvailable-{path.replace('/', '-')}]: {path} already exists")
    ca_path = join.get("caCertPath", f"{CONF}/pki/ca.crt")
    if not control_plane and host(ca_path).exists():
        errors.append(
            f"[ERROR FileAvailable-{ca_path.replace('/', '-')}]: {ca_path} already exists"
        )
    preflight(errors, ignored)
    joined = joining(join, version)
    if control_plane and joined.stacked:
        # Stacked etcd: this node's member will listen there (kubeadm's preflight, once the
        # cluster's configuration says etcd is local).
        preflight(common_preflight(registration, [2379, 2380]), ignored)
    dry_run = "dry-run" in flags
    out = dry_run_dir("join") if dry_run else root()
    prepare_control_plane(joined, out)
    # The double keeps the order of 1.31-1.32 (ControlPlaneKubeletLocalMode off) for a whole
    # join on every minor: the TLS bootstrap, then the etcd member. Its phases follow the gate.
    kubelet_start(joined, out, dry_run=dry_run, wait=True)
    if dry_run:
        return
    add_etcd_member(joined)
    mark(joined)
    print("\nThis node has joined the cluster (kubexms test double)")


CONTROL_PLANE_PODS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd")


def prepare_control_plane(joined: Joining, out: Path) -> None:
    """control-plane-prepare: check the PKI placed here, write the kubeconfigs and the
    control plane's static pod manifests (a control-plane join only)."""
    if not joined.control_plane:
        return
    local = joined.control_plane.get("localAPIEndpoint") or {}
    advertise = str(local.get("advertiseAddress", ""))
    if not advertise:
        raise KubeadmError("the double expects controlPlane.localAPIEndpoint.advertiseAddress")
    port = int(local.get("bindPort", 6443))
    cluster = joined.cluster
    try:
        local_ca = check_certificates(cluster, advertise, joined.node)
        if local_ca.strip() != joined.ca_pem.strip():
            raise pki.PkiError(f"{CONF}/pki/ca.crt is not the CA of the cluster it joins")
        kubeconfigs(
            cluster,
            joined.ca_pem,
            joined.node,
            f"https://{advertise}:{port}",
            ("admin", "controller-manager", "scheduler"),
            out,
        )
    except pki.PkiError as error:
        raise KubeadmError(f"[control-plane-prepare] {error}") from None
    for pod in (
        manifests.api_server(cluster, advertise, port),
        manifests.controller_manager(cluster),
        manifests.scheduler(cluster),
    ):
        write(f"{CONF}/manifests/{pod['metadata']['name']}.yaml", manifests.dump(pod), under=out)


def kubelet_start(joined: Joining, out: Path, *, dry_run: bool, wait: bool) -> None:
    """kubelet-start: the CA (a worker), bootstrap-kubelet.conf and the kubelet's files, then
    the kubelet (re)started and, when ``wait``, its TLS bootstrap waited for.

    Not modelled: kubeadm's refusal of a node of this name that is Ready. The doubles have no
    node lifecycle controller, so a Node whose kubelet stopped (a reset host) would stay Ready
    for ever, where a real control plane marks it Unknown after node-monitor-grace-period."""
    if not joined.control_plane:
        ca_path = joined.join.get("caCertPath", f"{CONF}/pki/ca.crt")
        if not (out / ca_path.lstrip("/")).exists():
            write(ca_path, joined.ca_pem, 0o644, under=out)
    write(
        f"{CONF}/bootstrap-kubelet.conf",
        pki.kubeconfig(
            joined.server,
            joined.ca_pem,
            "kubernetes",
            "tls-bootstrap-token-user",
            token=joined.token,
        ),
        under=out,
    )
    kubelet_files(joined.kubelet, joined.registration, out)
    if dry_run:
        print(f"[dryrun] Would start the kubelet; files are in {out}")
        return
    start_kubelet()
    if wait:
        wait_bootstrap(joined)


def wait_bootstrap(joined: Joining) -> None:
    """kubelet-wait-bootstrap: the kubelet's TLS bootstrap, then its bootstrap credential gone."""
    timeouts = joined.join.get("timeouts") or {}
    wait_tls_bootstrap(parse_duration(timeouts.get("tlsBootstrap", "5m0s")))
    host(f"{CONF}/bootstrap-kubelet.conf").unlink(missing_ok=True)


def add_etcd_member(joined: Joining) -> None:
    """The etcd member of a control-plane join with stacked etcd (nothing otherwise)."""
    if not joined.control_plane:
        return
    if not joined.stacked:
        print("[control-plane-join] Using external etcd - no local stacked instance added")
        return
    advertise = str(joined.control_plane["localAPIEndpoint"]["advertiseAddress"])
    join_etcd(joined.cluster, joined.node, advertise)


def mark(joined: Joining) -> None:
    """mark-control-plane: the node labelled and tainted (a control-plane join only)."""
    if not joined.control_plane:
        return
    client = admin_client(f"{CONF}/admin.conf")
    mark_control_plane(client, joined.node, joined.registration.get("taints") or [])


def wait_tls_bootstrap(seconds: float) -> None:
    print(
        f"[kubelet-start] Waiting for the kubelet to perform the TLS Bootstrap (up to {seconds:g}s)"
    )
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if host(f"{CONF}/kubelet.conf").exists():
            return
        time.sleep(1)
    raise KubeadmError(
        "timed out waiting for the kubelet to write /etc/kubernetes/kubelet.conf "
        "(its TLS bootstrap)"
    )
