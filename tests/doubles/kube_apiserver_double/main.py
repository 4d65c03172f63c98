"""kube-apiserver's start-up: flags, TLS, etcd, then serve until SIGTERM."""

from __future__ import annotations

import logging
import signal
import ssl
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from .admission import NODE_RESTRICTION, NodeRestriction, enabled_plugins
from .controllers import Controllers
from .encryption import EncryptionConfigError, Transformer
from .errors import ApiError
from .etcd import EtcdClient, EtcdError
from .flags import FlagError, Options, parse_flags, validate
from .rbac import Authorizer
from .server import ApiServer
from .store import Store

DEFAULT_VERSION = "v1.32.0"
ETCD_WAIT = 60.0
USAGE = """The Kubernetes API server validates and configures data
for the api objects which include pods, services, replicationcontrollers, and
others. (kubexms test double: see tests/doubles/README.md)

Usage:
  kube-apiserver [flags]
"""


def _tls_context(options: Options) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(options.get("tls-cert-file"), options.get("tls-private-key-file"))
    context.set_alpn_protocols(["http/1.1"])
    if options.get("client-ca-file"):
        context.load_verify_locations(options.get("client-ca-file"))
        context.verify_mode = ssl.CERT_OPTIONAL
    return context


def main(argv: list[str], version: str = DEFAULT_VERSION) -> int:
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="I%(asctime)s %(process)d %(module)s] %(message)s",
        datefmt="%m%d %H:%M:%S",
    )
    try:
        options = parse_flags(argv)
        if options.flag("help", False):
            sys.stdout.write(USAGE)
            return 0
        if "version" in options.values:
            print(f"Kubernetes {version} (kubexms test double)")
            return 0
        validate(options)
        try:
            plugins = enabled_plugins(
                options.items("enable-admission-plugins"),
                options.items("disable-admission-plugins"),
            )
        except ValueError as error:
            raise FlagError(str(error)) from None
    except FlagError as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    try:
        context = _tls_context(options)
    except (OSError, ssl.SSLError) as error:
        print(
            f"Error: failed to load the serving certificate or client CA: {error}", file=sys.stderr
        )
        return 1
    try:
        transformer = (
            Transformer.from_file(Path(options.get("encryption-provider-config")))
            if options.get("encryption-provider-config")
            else Transformer.identity()
        )
    except EncryptionConfigError as error:
        print(f"Error: --encryption-provider-config: {error}", file=sys.stderr)
        return 1
    etcd = EtcdClient(
        options.items("etcd-servers"),
        options.get("etcd-cafile") or None,
        options.get("etcd-certfile") or None,
        options.get("etcd-keyfile") or None,
        transformer,
    )
    store = Store(etcd, options.get("service-cluster-ip-range", "10.96.0.0/12"))
    deadline = time.monotonic() + ETCD_WAIT
    while True:  # like the real server: wait for the storage before serving
        try:
            store.ensure_system_objects()
            break
        except (EtcdError, ApiError) as error:
            if time.monotonic() > deadline:
                print(
                    f"Error: failed to reach etcd at {options.get('etcd-servers')}: {error}",
                    file=sys.stderr,
                )
                return 1
            time.sleep(1.0)
    address = options.get("bind-address", "0.0.0.0")
    try:
        server = ApiServer(
            (address, int(options.get("secure-port", "6443"))),
            context,
            store,
            etcd,
            version,
            options.flag("anonymous-auth", True),
            Authorizer(etcd, options.items("authorization-mode")),
            NodeRestriction(etcd) if NODE_RESTRICTION in plugins else None,
        )
    except OSError as error:
        print(
            f"Error: failed to listen on {address}:{options.get('secure-port', '6443')}: {error}",
            file=sys.stderr,
        )
        return 1
    controllers = Controllers(store)
    controllers.start()

    def stop(signum: int, frame: FrameType | None) -> None:
        server.stopping.set()
        controllers.stop()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    logging.getLogger("kube-apiserver-double").info(
        "Serving securely on %s:%s", address, server.server_address[1]
    )
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    return 0
