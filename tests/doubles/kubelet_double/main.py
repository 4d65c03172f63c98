"""The kubelet double's entry: ``main(argv, version) -> int``, for both of kubexms's modes.

Before it starts, like the real kubelet (each failure: the message and exit 1):

- its flags are exactly the real kubelet's of its version (kubexms's flag list
  ``src/kubexms/kubernetes/binary/flags/kubelet.yaml``, through the shared core): anything else
  is ``failed to parse kubelet flag: unknown flag: --x``; ``--name=value`` and bare booleans
  (every kubelet command line kubexms and kubeadm write has that form);
- ``--config`` is read strictly against the KubeletConfiguration schema of its minor (and
  missing: the real one exits too, as while kubeadm has not yet written it);
- ``--kubeconfig``, or when it does not exist yet, the TLS bootstrap with
  ``--bootstrap-kubeconfig`` (``bootstrap``);
- its serving pair and client CA (``server``).

Then it serves 10250 and 10248 (``server``), "runs" the static pods of ``staticPodPath`` when
the configuration names one (``static_pods``: kubeadm mode's control plane), and registers and
heartbeats its Node, writing the CNI configuration as install-cni would (``node``). It runs no
other pods and talks to no container runtime. SIGTERM stops it and its static pods.
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import sys
import threading
import zipfile
from pathlib import Path
from typing import Any

import yaml

from ._core import KubeconfigError, flags, from_kubeconfig, host, schema
from .bootstrap import KUBELET_DIR, KubeletError, tls_bootstrap
from .node import NodeAgent
from .server import CERT_DIR, listen, serving_context
from .static_pods import StaticPods

DEFAULT_VERSION = "v1.31.4"


def load_config(path: str, version: str) -> dict[str, Any]:
    """The KubeletConfiguration at ``path``, strictly, in the real kubelet's words."""
    try:
        text = host(path).read_text()
    except OSError as error:
        raise KubeletError(
            f"failed to load kubelet config file, path: {path}, error: failed to read kubelet "
            f'config file "{path}", error: open {path}: {(error.strerror or "error").lower()}'
        ) from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise KubeletError(f"failed to load kubelet config file, path: {path}: {error}") from None
    if not isinstance(document, dict) or document.get("kind") != "KubeletConfiguration":
        raise KubeletError(
            f"failed to load kubelet config file, path: {path}: not a KubeletConfiguration"
        )
    problems = schema.check(document, flags.minor_of(version))
    if problems:
        raise KubeletError(
            f"failed to load kubelet config file, path: {path}, error: "
            f"strict decoding error: {'; '.join(problems)}"
        )
    return document


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


def _parse(argv: list[str], version: str) -> dict[str, str]:
    try:
        return flags.parse("kubelet", version, argv)
    except flags.FlagError as error:
        raise KubeletError(f"failed to parse kubelet flag: {error.reason}") from None


def run(argv: list[str], version: str, doubles: str) -> int:
    given = _parse(argv, version)
    if not given.get("config"):
        raise KubeletError("the kubelet test double needs --config (kubexms always gives one)")
    config = load_config(given["config"], version)
    if not given.get("kubeconfig"):
        raise KubeletError("the kubelet test double needs --kubeconfig (kubexms gives it)")
    name = (given.get("hostname-override") or socket.gethostname()).lower()
    kubeconfig = given["kubeconfig"]
    if not host(kubeconfig).exists():
        bootstrap = given.get("bootstrap-kubeconfig")
        if not bootstrap or not host(bootstrap).exists():
            raise KubeletError(
                f"unable to load bootstrap kubeconfig: stat {bootstrap}: no such file or directory"
            )
        tls_bootstrap(bootstrap, kubeconfig, name)
    try:
        client = from_kubeconfig(host(kubeconfig), host)
    except KubeconfigError as error:
        raise KubeletError(str(error)) from None
    serving = serving_context(config, given.get("cert-dir") or CERT_DIR, name)
    listen(str(config.get("healthzBindAddress", "127.0.0.1")),
           int(config.get("healthzPort", 10248)), None)  # fmt: skip
    listen(str(config.get("address", "0.0.0.0")), int(config.get("port", 10250)), serving)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    pods = StaticPods(str(config.get("staticPodPath") or ""), doubles, version)
    if pods.directory:
        pods.doubles = doubles or unpack_images()
    pods.start(stop)
    every = flags.parse_duration(str(config.get("nodeStatusUpdateFrequency", "10s"))) or 10.0
    agent = NodeAgent(client, name, given, config, version, every)
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
        print(f"E0000 kubelet: {error}", file=sys.stderr, flush=True)
        return 1
