"""``kubeadm join --config``: discovery (cluster-info, the CA pin, the token's JWS), then the
node's files, the kubelet's TLS bootstrap, and for a control-plane node its manifests and etcd
member."""

from __future__ import annotations

import base64
import socket
import time
from typing import Any

import yaml
from cryptography import x509

from . import manifests, pki
from ._core import ApiError, Client, host, root, write
from .common import (
    CONF,
    ETCD_TAGS,
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


def cmd_join(argv: list[str], version: str) -> None:
    flags = parse_flags(argv, JOIN_FLAGS)
    if "config" not in flags:
        raise KubeadmError("the kubeadm test double needs --config (kubexms always gives one)")
    documents = load_config(flags["config"], {"JoinConfiguration"}, version)
    if "JoinConfiguration" not in documents:
        raise KubeadmError("the double expects a JoinConfiguration")
    join = documents["JoinConfiguration"]
    registration = join.get("nodeRegistration") or {}
    node = registration.get("name") or socket.gethostname()
    control_plane = join.get("controlPlane")
    ignored = {i.lower() for i in flags.get("ignore-preflight-errors", "").split(",") if i}
    ports = [10250] + ([6443, 10257, 10259] if control_plane else [])
    errors = common_preflight(registration, ports)
    for path in (f"{CONF}/kubelet.conf", f"{CONF}/bootstrap-kubelet.conf"):
        if host(path).exists():
            errors.append(f"[ERROR FileAvailable-{path.replace('/', '-')}]: {path} already exists")
    ca_path = join.get("caCertPath", f"{CONF}/pki/ca.crt")
    if not control_plane and host(ca_path).exists():
        errors.append(
            f"[ERROR FileAvailable-{ca_path.replace('/', '-')}]: {ca_path} already exists"
        )
    preflight(errors, ignored)
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
    if control_plane and "external" not in (cluster.get("etcd") or {}):
        # Stacked etcd: this node's member will listen there (kubeadm's preflight, once the
        # cluster's configuration says etcd is local).
        preflight(common_preflight(registration, [2379, 2380]), ignored)
    out = dry_run_dir("join") if "dry-run" in flags else root()
    if control_plane:
        advertise = str((control_plane.get("localAPIEndpoint") or {}).get("advertiseAddress", ""))
        if not advertise:
            raise KubeadmError("the double expects controlPlane.localAPIEndpoint.advertiseAddress")
        port = int((control_plane.get("localAPIEndpoint") or {}).get("bindPort", 6443))
        try:
            local_ca = check_certificates(cluster, advertise, node)
            if local_ca.strip() != ca_pem.strip():
                raise pki.PkiError(f"{CONF}/pki/ca.crt is not the CA of the cluster it joins")
            kubeconfigs(
                cluster,
                ca_pem,
                node,
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
            write(
                f"{CONF}/manifests/{pod['metadata']['name']}.yaml", manifests.dump(pod), under=out
            )
    else:
        write(ca_path, ca_pem, 0o644, under=out)
    write(
        f"{CONF}/bootstrap-kubelet.conf",
        pki.kubeconfig(server, ca_pem, "kubernetes", "tls-bootstrap-token-user", token=token),
        under=out,
    )
    kubelet_files(kubelet, registration, out)
    if "dry-run" in flags:
        print(f"[dryrun] Would start the kubelet; files are in {out}")
        return
    start_kubelet()
    wait_tls_bootstrap(parse_duration((join.get("timeouts") or {}).get("tlsBootstrap", "5m0s")))
    host(f"{CONF}/bootstrap-kubelet.conf").unlink(missing_ok=True)
    if control_plane:
        join_etcd(cluster, node, str(control_plane["localAPIEndpoint"]["advertiseAddress"]))
        client = admin_client(f"{CONF}/admin.conf")
        mark_control_plane(client, node, registration.get("taints") or [])
    print("\nThis node has joined the cluster (kubexms test double)")


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


def join_etcd(cluster: dict[str, Any], node: str, advertise: str) -> None:
    """Stacked etcd: add this member through an existing one, then its static pod."""
    if "external" in (cluster.get("etcd") or {}):
        return
    client = admin_client(f"{CONF}/admin.conf")
    nodes = client.get("/api/v1/nodes?labelSelector=node-role.kubernetes.io%2Fcontrol-plane")
    peers = [
        a["address"]
        for n in nodes.get("items", [])
        for a in n.get("status", {}).get("addresses", [])
        if a.get("type") == "InternalIP" and n["metadata"]["name"] != node
    ]
    if not peers:
        raise KubeadmError("[control-plane-join] no etcd member to join (no control-plane node)")
    directory = host(cluster.get("certificatesDir", f"{CONF}/pki"))
    etcd = Client(
        f"https://{peers[0]}:2379",
        (directory / "etcd/ca.crt").read_bytes(),
        cert_pem=(directory / "apiserver-etcd-client.crt").read_bytes(),
        key_pem=(directory / "apiserver-etcd-client.key").read_bytes(),
    )
    listed = etcd.request("POST", "/v3/cluster/member/list", {})
    members = listed.get("members", [])
    mine = f"https://{advertise}:2380"
    if not any(mine in m.get("peerURLs", []) for m in members):
        members = add_member(etcd, mine).get("members", members)
    initial = ",".join(
        f"{m.get('name') or node}={m['peerURLs'][0]}" for m in members if m.get("peerURLs")
    )
    pod = manifests.etcd(
        cluster,
        node,
        advertise,
        initial,
        "existing",
        ETCD_TAGS[minor(cluster["kubernetesVersion"])],
    )
    write(f"{CONF}/manifests/etcd.yaml", manifests.dump(pod))
    print("[etcd] Announced new etcd member joining to the existing etcd cluster")
    # As kubeadm: wait until the new member runs (it then has a name), so the next control
    # plane join finds a healthy cluster to add its own member to.
    print("[etcd] Waiting for the new etcd member to join the cluster")
    deadline = time.monotonic() + 120
    while True:
        try:
            current = etcd.request("POST", "/v3/cluster/member/list", {}).get("members", [])
        except ApiError:
            current = []
        if any(mine in m.get("peerURLs", []) and m.get("name") for m in current):
            return
        if time.monotonic() > deadline:
            raise KubeadmError("[etcd] the new etcd member did not join within 120s")
        time.sleep(2)


def add_member(etcd: Client, peer_url: str) -> dict[str, Any]:
    """``member add`` retried as kubeadm's etcd client retries it (exponential backoff from
    100 ms, factor 1.5, 18 steps: about 200 s): etcd refuses a new member with "unhealthy
    cluster" until every voting member has been connected for 5 s, as right after the
    previous control-plane join."""
    delay, steps = 0.1, 18
    for step in range(steps):
        try:
            added: dict[str, Any] = etcd.request(
                "POST", "/v3/cluster/member/add", {"peerURLs": [peer_url]}
            )
            return added
        except ApiError as error:
            try:  # an add that timed out here may have been made there
                listed: dict[str, Any] = etcd.request("POST", "/v3/cluster/member/list", {})
            except ApiError:
                listed = {}
            if any(peer_url in m.get("peerURLs", []) for m in listed.get("members", [])):
                return listed
            if step == steps - 1:
                raise KubeadmError(f"[etcd] adding the etcd member {peer_url}: {error}") from None
            print(f"[etcd] member add failed, retrying: {error}")
        time.sleep(delay)
        delay *= 1.5
    raise AssertionError("unreachable")
