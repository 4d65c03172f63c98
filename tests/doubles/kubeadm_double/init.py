"""``kubeadm init --config``: preflight, the PKI checked, kubeconfigs, kubelet files and static
pod manifests written, the kubelet started, then what kubeadm uploads."""

from __future__ import annotations

import socket

from . import manifests, pki, rbac
from ._core import Client, host, root, write
from .common import (
    CONF,
    ETCD_TAGS,
    KubeadmError,
    common_preflight,
    dry_run_dir,
    is_newer,
    load_config,
    minor,
    parse_duration,
    parse_flags,
    preflight,
    previous_minor,
)
from .node import (
    admin_client,
    check_certificates,
    client_credentials,
    kubeconfigs,
    kubelet_files,
    mark_control_plane,
    start_kubelet,
    upload,
    wait_healthy,
)
from .tokens import sign_cluster_info, token_secret_object

INIT_FLAGS = {
    "config": True,
    "skip-token-print": False,
    "skip-phases": True,
    "dry-run": False,
    "ignore-preflight-errors": True,
    "v": True,
    "skip-certificate-key-print": False,
}


def cmd_init(argv: list[str], version: str) -> None:
    flags = parse_flags(argv, INIT_FLAGS)
    if "config" not in flags:
        raise KubeadmError("the kubeadm test double needs --config (kubexms always gives one)")
    kinds = {
        "InitConfiguration",
        "ClusterConfiguration",
        "KubeletConfiguration",
        "KubeProxyConfiguration",
    }
    documents = load_config(flags["config"], kinds, version)
    if "ClusterConfiguration" not in documents or "InitConfiguration" not in documents:
        raise KubeadmError("the double expects InitConfiguration and ClusterConfiguration")
    init, cluster = documents["InitConfiguration"], documents["ClusterConfiguration"]
    wanted = cluster.get("kubernetesVersion", version)
    supported = minor(wanted) in (minor(version), previous_minor(minor(version)))
    if not supported or is_newer(wanted, version):
        raise KubeadmError(
            f"this version of kubeadm only supports deploying clusters with the control "
            f"plane version >= {previous_minor(minor(version))}.0 and <= {version}; "
            f"current version: {wanted}"
        )
    if not cluster.get("controlPlaneEndpoint"):
        raise KubeadmError("the double expects ClusterConfiguration.controlPlaneEndpoint")
    registration = init.get("nodeRegistration") or {}
    node = registration.get("name") or socket.gethostname()
    endpoint = init.get("localAPIEndpoint") or {}
    advertise = endpoint.get("advertiseAddress")
    if not advertise:
        raise KubeadmError("the double expects localAPIEndpoint.advertiseAddress")
    port = int(endpoint.get("bindPort", 6443))
    ignored = {i.lower() for i in flags.get("ignore-preflight-errors", "").split(",") if i}
    stacked = "external" not in (cluster.get("etcd") or {})
    errors = common_preflight(
        registration, [port, 10250, 10257, 10259] + ([2379, 2380] if stacked else [])
    )
    for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "etcd"):
        path = f"{CONF}/manifests/{name}.yaml"
        if host(path).exists():
            errors.append(f"[ERROR FileAvailable-{path.replace('/', '-')}]: {path} already exists")
    if stacked:
        data_dir = host(
            ((cluster.get("etcd") or {}).get("local") or {}).get("dataDir", "/var/lib/etcd")
        )
        if data_dir.is_dir() and any(data_dir.iterdir()):
            errors.append(
                f"[ERROR DirAvailable-{str(data_dir).replace('/', '-')}]: {data_dir} is not empty"
            )
    preflight(errors, ignored)
    try:
        ca_pem = check_certificates(cluster, advertise, node)
    except pki.PkiError as error:
        raise KubeadmError(f"[certs] {error}") from None
    out = dry_run_dir("init") if "dry-run" in flags else root()
    local = f"https://{advertise}:{port}"
    try:
        kubeconfigs(
            cluster,
            ca_pem,
            node,
            local,
            ("admin", "super-admin", "kubelet", "controller-manager", "scheduler"),
            out,
        )
    except pki.PkiError as error:
        raise KubeadmError(f"[kubeconfig] {error}") from None
    kubelet_files(documents.get("KubeletConfiguration", {}), registration, out)
    pods = [
        manifests.api_server(cluster, advertise, port),
        manifests.controller_manager(cluster),
        manifests.scheduler(cluster),
    ]
    if stacked:
        pods.append(
            manifests.etcd(
                cluster,
                node,
                advertise,
                f"{node}=https://{advertise}:2380",
                "new",
                ETCD_TAGS[minor(wanted)],
            )
        )
    for pod in pods:
        write(f"{CONF}/manifests/{pod['metadata']['name']}.yaml", manifests.dump(pod), under=out)
    if "dry-run" in flags:
        print(f"[dryrun] Would start the kubelet; files are in {out}")
        return
    start_kubelet()
    client = admin_client(f"{CONF}/admin.conf")
    timeouts = init.get("timeouts") or {}
    wait_healthy(
        Client(local, ca_pem, **client_credentials(f"{CONF}/admin.conf")),
        parse_duration(timeouts.get("controlPlaneComponentHealthCheck", "4m0s")),
    )
    rbac.ensure_cluster_admins(client, admin_client(f"{CONF}/super-admin.conf"))
    upload(client, cluster, documents, ca_pem)
    rbac.upload_config_roles(client)
    mark_control_plane(client, node, registration.get("taints") or [])
    for token in init.get("bootstrapTokens") or []:
        client.put_object("/api/v1/namespaces/kube-system/secrets", token_secret_object(token))
        print("[bootstrap-token] Creating the bootstrap token")
    rbac.bootstrap_token_rbac(client)
    if "KubeProxyConfiguration" in documents:
        rbac.kube_proxy_rbac(client)
    sign_cluster_info(client, init.get("bootstrapTokens") or [])
    print("\nYour Kubernetes control-plane has initialized successfully! (kubexms test double)")
    if "skip-token-print" not in flags:
        for token in init.get("bootstrapTokens") or []:
            print(f"kubeadm join {cluster['controlPlaneEndpoint']} --token {token['token']}")
