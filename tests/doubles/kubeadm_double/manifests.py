"""The static pod manifests kubeadm writes to ``/etc/kubernetes/manifests``: the same
components, flags, certificate paths and host mounts as kubeadm 1.31-1.34 (its
``controlplane`` and ``etcd`` phases), ``extraArgs`` of the ClusterConfiguration merged in."""

from __future__ import annotations

from typing import Any

import yaml

PKI = "/etc/kubernetes/pki"
CONF = "/etc/kubernetes"
Json = dict[str, Any]


def _args(defaults: dict[str, str], extra: list[Json] | None) -> list[str]:
    merged = dict(defaults)
    for item in extra or []:
        merged[item["name"]] = item["value"]
    return [f"--{name}={merged[name]}" for name in sorted(merged)]


def _pod(
    name: str,
    image: str,
    command: list[str],
    mounts: dict[str, tuple[str, str]],
    port: int,
    scheme: str,
    host: str,
) -> Json:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "labels": {"component": name, "tier": "control-plane"},
            "name": name,
            "namespace": "kube-system",
        },
        "spec": {
            "containers": [
                {
                    "command": command,
                    "image": image,
                    "imagePullPolicy": "IfNotPresent",
                    "livenessProbe": {
                        "failureThreshold": 8,
                        "httpGet": {
                            "host": host,
                            "path": "/livez",
                            "port": port,
                            "scheme": scheme,
                        },
                        "initialDelaySeconds": 10,
                        "periodSeconds": 10,
                        "timeoutSeconds": 15,
                    },
                    "name": name,
                    "resources": {"requests": {"cpu": "100m" if name == "etcd" else "250m"}},
                    "volumeMounts": [
                        {"mountPath": path, "name": volume, "readOnly": kind != "DirectoryOrCreate"}
                        for volume, (path, kind) in sorted(mounts.items())
                    ],
                }
            ],
            "hostNetwork": True,
            "priority": 2000001000,
            "priorityClassName": "system-node-critical",
            "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
            "volumes": [
                {"hostPath": {"path": path, "type": kind}, "name": volume}
                for volume, (path, kind) in sorted(mounts.items())
            ],
        },
    }


def _image(cluster: Json, name: str) -> str:
    return f"{cluster['imageRepository']}/{name}:{cluster['kubernetesVersion']}"


def api_server(cluster: Json, advertise: str, port: int) -> Json:
    networking = cluster.get("networking") or {}
    etcd = cluster.get("etcd") or {}
    external = etcd.get("external")
    flags = {
        "advertise-address": advertise,
        "allow-privileged": "true",
        "authorization-mode": "Node,RBAC",
        "client-ca-file": f"{PKI}/ca.crt",
        "enable-admission-plugins": "NodeRestriction",
        "enable-bootstrap-token-auth": "true",
        "kubelet-client-certificate": f"{PKI}/apiserver-kubelet-client.crt",
        "kubelet-client-key": f"{PKI}/apiserver-kubelet-client.key",
        "kubelet-preferred-address-types": "InternalIP,ExternalIP,Hostname",
        "proxy-client-cert-file": f"{PKI}/front-proxy-client.crt",
        "proxy-client-key-file": f"{PKI}/front-proxy-client.key",
        "requestheader-allowed-names": "front-proxy-client",
        "requestheader-client-ca-file": f"{PKI}/front-proxy-ca.crt",
        "requestheader-extra-headers-prefix": "X-Remote-Extra-",
        "requestheader-group-headers": "X-Remote-Group",
        "requestheader-username-headers": "X-Remote-User",
        "secure-port": str(port),
        "service-account-issuer": "https://kubernetes.default.svc."
        + networking.get("dnsDomain", "cluster.local"),
        "service-account-key-file": f"{PKI}/sa.pub",
        "service-account-signing-key-file": f"{PKI}/sa.key",
        "service-cluster-ip-range": networking.get("serviceSubnet", "10.96.0.0/12"),
        "tls-cert-file": f"{PKI}/apiserver.crt",
        "tls-private-key-file": f"{PKI}/apiserver.key",
    }
    if external:
        flags.update(
            {
                "etcd-servers": ",".join(external["endpoints"]),
                "etcd-cafile": external["caFile"],
                "etcd-certfile": external["certFile"],
                "etcd-keyfile": external["keyFile"],
            }
        )
    else:
        flags.update(
            {
                "etcd-servers": "https://127.0.0.1:2379",
                "etcd-cafile": f"{PKI}/etcd/ca.crt",
                "etcd-certfile": f"{PKI}/apiserver-etcd-client.crt",
                "etcd-keyfile": f"{PKI}/apiserver-etcd-client.key",
            }
        )
    extra = (cluster.get("apiServer") or {}).get("extraArgs")
    mounts = {
        "ca-certs": ("/etc/ssl/certs", "DirectoryOrCreate"),
        "k8s-certs": (PKI, "DirectoryOrCreate"),
    }
    return _pod(
        "kube-apiserver",
        _image(cluster, "kube-apiserver"),
        ["kube-apiserver", *_args(flags, extra)],
        mounts,
        port,
        "HTTPS",
        advertise,
    )


def controller_manager(cluster: Json) -> Json:
    networking = cluster.get("networking") or {}
    flags = {
        "authentication-kubeconfig": f"{CONF}/controller-manager.conf",
        "authorization-kubeconfig": f"{CONF}/controller-manager.conf",
        "bind-address": "127.0.0.1",
        "client-ca-file": f"{PKI}/ca.crt",
        "cluster-name": cluster.get("clusterName", "kubernetes"),
        "cluster-signing-cert-file": f"{PKI}/ca.crt",
        "cluster-signing-key-file": f"{PKI}/ca.key",
        "controllers": "*,bootstrapsigner,tokencleaner",
        "kubeconfig": f"{CONF}/controller-manager.conf",
        "leader-elect": "true",
        "requestheader-client-ca-file": f"{PKI}/front-proxy-ca.crt",
        "root-ca-file": f"{PKI}/ca.crt",
        "service-account-private-key-file": f"{PKI}/sa.key",
        "service-cluster-ip-range": networking.get("serviceSubnet", "10.96.0.0/12"),
        "use-service-account-credentials": "true",
    }
    if networking.get("podSubnet"):
        flags["allocate-node-cidrs"] = "true"
        flags["cluster-cidr"] = networking["podSubnet"]
    extra = (cluster.get("controllerManager") or {}).get("extraArgs")
    mounts = {
        "ca-certs": ("/etc/ssl/certs", "DirectoryOrCreate"),
        "k8s-certs": (PKI, "DirectoryOrCreate"),
        "kubeconfig": (f"{CONF}/controller-manager.conf", "FileOrCreate"),
    }
    return _pod(
        "kube-controller-manager",
        _image(cluster, "kube-controller-manager"),
        ["kube-controller-manager", *_args(flags, extra)],
        mounts,
        10257,
        "HTTPS",
        "127.0.0.1",
    )


def scheduler(cluster: Json) -> Json:
    flags = {
        "authentication-kubeconfig": f"{CONF}/scheduler.conf",
        "authorization-kubeconfig": f"{CONF}/scheduler.conf",
        "bind-address": "127.0.0.1",
        "kubeconfig": f"{CONF}/scheduler.conf",
        "leader-elect": "true",
    }
    extra = (cluster.get("scheduler") or {}).get("extraArgs")
    mounts = {"kubeconfig": (f"{CONF}/scheduler.conf", "FileOrCreate")}
    return _pod(
        "kube-scheduler",
        _image(cluster, "kube-scheduler"),
        ["kube-scheduler", *_args(flags, extra)],
        mounts,
        10259,
        "HTTPS",
        "127.0.0.1",
    )


def etcd(
    cluster: Json, name: str, advertise: str, initial_cluster: str, state: str, etcd_tag: str
) -> Json:
    local = (cluster.get("etcd") or {}).get("local") or {}
    data_dir = local.get("dataDir", "/var/lib/etcd")
    flags = {
        "advertise-client-urls": f"https://{advertise}:2379",
        "cert-file": f"{PKI}/etcd/server.crt",
        "client-cert-auth": "true",
        "data-dir": data_dir,
        "experimental-initial-corrupt-check": "true",
        "experimental-watch-progress-notify-interval": "5s",
        "initial-advertise-peer-urls": f"https://{advertise}:2380",
        "initial-cluster": initial_cluster,
        "key-file": f"{PKI}/etcd/server.key",
        "listen-client-urls": f"https://127.0.0.1:2379,https://{advertise}:2379",
        "listen-metrics-urls": "http://127.0.0.1:2381",
        "listen-peer-urls": f"https://{advertise}:2380",
        "name": name,
        "peer-cert-file": f"{PKI}/etcd/peer.crt",
        "peer-client-cert-auth": "true",
        "peer-key-file": f"{PKI}/etcd/peer.key",
        "peer-trusted-ca-file": f"{PKI}/etcd/ca.crt",
        "snapshot-count": "10000",
        "trusted-ca-file": f"{PKI}/etcd/ca.crt",
    }
    if state == "existing":
        flags["initial-cluster-state"] = "existing"
    mounts = {
        "etcd-certs": (f"{PKI}/etcd", "DirectoryOrCreate"),
        "etcd-data": (data_dir, "DirectoryOrCreate"),
    }
    image = f"{cluster['imageRepository']}/etcd:{etcd_tag}"
    return _pod(
        "etcd",
        image,
        ["etcd", *_args(flags, local.get("extraArgs"))],
        mounts,
        2381,
        "HTTP",
        "127.0.0.1",
    )


def dump(pod: Json) -> bytes:
    return yaml.safe_dump(pod).encode()
