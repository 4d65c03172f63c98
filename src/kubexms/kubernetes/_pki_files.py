"""Which files of the cluster PKI go where on the masters before kubeadm runs (kubeadm mode).

kubeadm uses certificates, keys and kubeconfigs it finds in place (after checking them) and
generates no CA of its own when ``ca.crt`` and ``ca.key`` are there. What each master gets
differs, because ``kubeadm join`` refuses some files that ``kubeadm init`` accepts:

- every master: the shared CAs (cluster, front-proxy; the etcd CA), the service-account key
  pair, the API server's certificates (its serving certificate covers every master), the
  front-proxy client, the API server's etcd client (unless etcd is the user's: those files are
  not in the cluster PKI), and the controller-manager and scheduler kubeconfigs;
- stacked etcd (``etcd.type: kubeadm``): the etcd CA key, and this member's server and peer
  certificates and the health-check client, under kubeadm's names;
- the first master only (``kubeadm init``): ``admin.conf``, ``super-admin.conf`` and its
  ``kubelet.conf`` (a joining node's preflight refuses an existing ``kubelet.conf``;
  ``kubeadm join --control-plane`` writes ``admin.conf`` itself).

Workers get nothing here: ``kubeadm join`` fetches the CA through discovery (pinned by the
``caCertHashes``) and refuses an existing ``/etc/kubernetes/pki/ca.crt``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kubexms.kubernetes._layout import CONFIG_DIR, PKI_DIR, first_master
from kubexms.steps import PKIFile, kubeadm_layout

if TYPE_CHECKING:
    from kubexms.config import Cluster

_SHARED = ("ca", "front-proxy-ca", "apiserver", "apiserver-kubelet-client", "front-proxy-client")
_MEMBER = {
    "etcd/server-{host}": "etcd/server",
    "etcd/peer-{host}": "etcd/peer",
    "etcd/healthcheck-client": "etcd/healthcheck-client",
}


def _pair(source: str, dest: str) -> tuple[PKIFile, PKIFile]:
    return (
        PKIFile(f"{source}.crt", f"{PKI_DIR}/{dest}.crt"),
        PKIFile(f"{source}.key", f"{PKI_DIR}/{dest}.key"),
    )


def _kubeconfig(name: str, dest: str) -> PKIFile:
    return PKIFile(f"kubeconfig/{name}.conf", f"{CONFIG_DIR}/{dest}.conf")


def master_pki_files(cluster: Cluster, host: str) -> tuple[PKIFile, ...]:
    """The cluster PKI files ``host`` (a master) needs before kubeadm init or join there
    (``{host}`` in a source is the host's own name; PlacePKIFiles fills it in)."""
    if host not in {master.name for master in cluster.hosts_with_role("master")}:
        raise ValueError(f"{host} is not a master")
    etcd = cluster.spec.etcd.type
    files: list[PKIFile] = [*kubeadm_layout(_SHARED, PKI_DIR)]
    files += [PKIFile("sa.key", f"{PKI_DIR}/sa.key"), PKIFile("sa.pub", f"{PKI_DIR}/sa.pub")]
    if etcd != "external":
        files += _pair("apiserver-etcd-client", "apiserver-etcd-client")
        files.append(PKIFile("etcd/ca.crt", f"{PKI_DIR}/etcd/ca.crt"))
    if etcd == "kubeadm":
        files.append(PKIFile("etcd/ca.key", f"{PKI_DIR}/etcd/ca.key"))
        for source, dest in _MEMBER.items():
            files += _pair(source, dest)
    files += [
        _kubeconfig("controller-manager", "controller-manager"),
        _kubeconfig("scheduler", "scheduler"),
    ]
    if host == first_master(cluster):
        files += [
            _kubeconfig("admin", "admin"),
            _kubeconfig("super-admin", "super-admin"),
            _kubeconfig("kubelet-{host}", "kubelet"),
        ]
    return tuple(files)
