"""A control-plane join's stacked etcd member: added through an existing member (retried as
kubeadm retries it; a member already added under this peer URL is taken), then its static pod
manifest, then waited for until it runs."""

from __future__ import annotations

import time
from typing import Any

from . import manifests
from ._core import ApiError, Client, host, write
from .common import CONF, ETCD_TAGS, KubeadmError, minor
from .node import admin_client


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
