"""Double of the kubelet as binary mode runs it (``--config``, ``--kubeconfig`` with the node's
client certificate, ``--hostname-override``, ``--node-ip``). kubeadm mode's kubelet (bootstrap
kubeconfig, kubeadm's flags file) is another double's.

Before it starts, like the real kubelet: its flags of the version only, the
KubeletConfiguration strict, the serving pair (``tlsCertFile``/``tlsPrivateKeyFile``) readable
and matching, the client CA (``authentication.x509.clientCAFile``) readable, the kubeconfig
proven against the API server. Then it:

- serves HTTPS on ``address``:``port`` (10250) with its serving certificate; a client must
  present a certificate of the client CA (the API server's kubelet client does), else 401, as
  with anonymous authentication off; ``/healthz`` answers ``ok``;
- serves ``/healthz`` over plain HTTP on ``healthzBindAddress``:``healthzPort``
  (127.0.0.1:10248);
- registers its Node and posts its status every ``nodeStatusUpdateFrequency`` (10 s)
  (tests/doubles/README.md, the kubelet's side of the contract): ``Ready=False`` until a CNI
  configuration exists in /etc/cni/net.d;
- writes that configuration as the CNI DaemonSet's install-cni container would on this node,
  once the DaemonSet exists and may run here (the shared core's ``cni``, as in kubeadm mode).
It runs no pods and talks to no container runtime.
"""

from __future__ import annotations

import datetime as dt
import http.server
import os
import ssl
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from ._core import ApiError, cni
from ._core import flags as flag_lists
from .common import (
    api_client,
    fail,
    load_config,
    parse_flags,
    public_key_of,
    read_file,
    wait_healthy,
)


class _Kubelet(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        authenticated = isinstance(self.request, ssl.SSLSocket) and bool(self.request.getpeercert())
        if isinstance(self.request, ssl.SSLSocket) and not authenticated:
            self._answer(401, b"Unauthorized")
        elif self.path.split("?")[0] == "/healthz":
            self._answer(200, b"ok")
        else:
            self._answer(404, b"404 page not found")

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


def _listen(address: str, port: int, context: ssl.SSLContext | None) -> threading.Thread:
    try:
        server = http.server.ThreadingHTTPServer((address, port), _Kubelet)
    except OSError as error:
        fail(f"E0000 failed to listen on {address}:{port}: {error.strerror}")
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _node(name: str, config: dict[str, Any]) -> dict[str, Any]:
    node: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
            },
        },
    }
    taints = config.get("registerWithTaints") or []
    if taints:
        node["spec"] = {"taints": taints}
    return node


def _status(name: str, address: str, version: str, since: str) -> dict[str, Any]:
    ready = cni.configured()
    condition = {
        "type": "Ready",
        "status": "True" if ready else "False",
        "reason": "KubeletReady" if ready else "KubeletNotReady",
        "message": "kubelet is posting ready status"
        if ready
        else "container runtime network not ready: NetworkReady=false "
        "reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not "
        "initialized",
        "lastHeartbeatTime": _now(),
        "lastTransitionTime": since,
    }
    return {
        "status": {
            "conditions": [condition],
            "addresses": [
                {"type": "InternalIP", "address": address},
                {"type": "Hostname", "address": name},
            ],
            "nodeInfo": {
                "kubeletVersion": version,
                "operatingSystem": "linux",
                "architecture": "amd64",
            },
        }
    }


def kubelet(version: str, argv: Sequence[str]) -> None:
    """The kubelet double (see the module docstring)."""
    flags = parse_flags("kubelet", version, argv)
    for required in ("config", "kubeconfig"):
        if not flags.get(required):
            fail(f"E0000 kubexms test double: this double needs --{required} (kubexms gives it)")
    config = load_config(flags["config"], "KubeletConfiguration", version)
    cert, key = config.get("tlsCertFile"), config.get("tlsPrivateKeyFile")
    if not isinstance(cert, str) or not isinstance(key, str):
        fail("E0000 kubexms test double: tlsCertFile and tlsPrivateKeyFile are required here")
    if public_key_of(cert, private=False) != public_key_of(key, private=True):
        fail(f"E0000 tls: private key does not match public key ({cert}, {key})")
    authentication = config.get("authentication") or {}
    client_ca = (authentication.get("x509") or {}).get("clientCAFile")
    if not client_ca:
        fail("E0000 kubexms test double: authentication.x509.clientCAFile is required here")
    read_file(client_ca, "unable to load client CA file")
    name = flags.get("hostname-override") or os.uname().nodename
    address = flags.get("node-ip", "")
    client = api_client(flags["kubeconfig"])
    wait_healthy(client)

    serving = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    serving.load_cert_chain(cert, key)
    serving.load_verify_locations(client_ca)
    serving.verify_mode = ssl.CERT_OPTIONAL
    _listen(str(config.get("healthzBindAddress", "127.0.0.1")),
            int(config.get("healthzPort", 10248)), None)  # fmt: skip
    main = _listen(str(config.get("address", "0.0.0.0")), int(config.get("port", 10250)), serving)

    try:
        client.request("POST", "/api/v1/nodes", _node(name, config))
    except ApiError as error:
        if error.status != 409:
            fail(f"E0000 unable to register node {name!r} with the API server: {error}")
    print(f"I0000 node {name!r} registered (kubexms test double)", flush=True)
    since = _now()
    every = flag_lists.parse_duration(str(config.get("nodeStatusUpdateFrequency", "10s"))) or 10.0
    while main.is_alive():
        try:
            cni.install_cni(client, name)
            client.request_patch(f"/api/v1/nodes/{name}/status",
                                 _status(name, address, version, since))  # fmt: skip
        except ApiError as error:
            print(f"E0000 node status: {error}", file=sys.stderr, flush=True)
        time.sleep(every)
