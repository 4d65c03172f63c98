"""What the doubles of kube-controller-manager, kube-scheduler and kube-proxy share.

Like the real binary, a double:

- accepts only its component's flags for its version (kubexms's flag lists, the data files of
  ``kubexms/kubernetes/binary/flags``), in pflag's ``--name=value`` / ``--bool-flag`` forms, and
  refuses anything else the way cobra does (``Error: unknown flag: --foo``, exit 1);
- reads its configuration file strictly: the schema of its kind and minor
  (tests/fixtures/k8s_schemas) rejects an unknown field at any depth, a fatal error as with the
  real strict decoding;
- reads its kubeconfig and proves it works: TLS to the server named there, the server's
  certificate checked against the kubeconfig's CA, its client certificate presented, until
  ``GET /healthz`` answers 200 (the real components retry too; the unit restarts them);
- only then listens on its port (HTTPS with a self-signed certificate made at start by openssl,
  as the real ones make one without ``--tls-cert-file``; kube-proxy's health port is plain
  HTTP), answering ``/healthz``, ``/livez``, ``/readyz`` with ``ok``.

Flags, schemas, the API client and the data they read are the shared doubles core's
(tests/doubles/doubles_core), here given the components' fatal-error wording.
"""

from __future__ import annotations

import http.server
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

import yaml

from ._core import ApiError, Client, KubeconfigError, api, flags, from_kubeconfig, schema

VERSION_VARIABLE = "KUBEXMS_DOUBLE_VERSION"
API_WAIT_VARIABLE = "KUBEXMS_DOUBLE_API_WAIT"
"""Seconds to wait for the API server before the fatal error (default 60; tests shorten it)."""
minor_of = flags.minor_of


def fail(message: str, code: int = 1) -> NoReturn:
    """End the process the way the real component ends on a fatal error."""
    print(message, file=sys.stderr, flush=True)
    sys.exit(code)


def checked_version(value: str) -> str:
    """``v1.31.4`` (a leading v added); fatal when ``value`` is no such version."""
    if not re.fullmatch(r"v?\d+\.\d+\.\d+", value or ""):
        fail(f"kubexms test double: no version to play ({VERSION_VARIABLE}=v1.31.4)")
    return value if value.startswith("v") else f"v{value}"


def parse_flags(component: str, version: str, argv: Sequence[str]) -> dict[str, str]:
    """``argv`` as flags of ``component`` at ``version``, with cobra's refusals, ``--version``
    and ``--help``."""
    try:
        return flags.parse(component, version, argv)
    except flags.FlagError as error:
        fail(str(error))


def read_file(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        fail(f"E0000 {what}: open {path}: {error.strerror}")


def load_config(path: str, kind: str, version: str) -> dict[str, Any]:
    """The configuration file at ``path``, validated strictly as ``kind`` of ``version``."""
    try:
        document = yaml.safe_load(read_file(path, f"failed to read {kind}"))
    except yaml.YAMLError as error:
        fail(f"E0000 couldn't decode {path}: {error}")
    if not isinstance(document, dict) or document.get("kind") != kind:
        fail(f"E0000 {path}: no kind {kind!r} is registered for this file")
    errors = schema.check(document, minor_of(version))
    if errors:
        fail(f"E0000 {path}: strict decoding error: {errors[0]}")
    return document


def api_client(kubeconfig: str) -> Client:
    """A client of the API server named by ``kubeconfig``, as its user; fatal when the
    kubeconfig cannot be used."""
    try:
        return from_kubeconfig(Path(kubeconfig))
    except KubeconfigError as error:
        fail(f"E0000 {error}")


def wait_healthy(client: Client) -> None:
    """Until ``/healthz`` answers over mutual TLS; fatal after ``KUBEXMS_DOUBLE_API_WAIT``."""
    try:
        api.wait_healthy(client, float(os.environ.get(API_WAIT_VARIABLE, "60")))
    except ApiError as error:
        fail(f"E0000 {error}")


def self_signed(directory: Path, name: str) -> tuple[Path, Path]:
    """A self-signed serving pair for ``name`` made by openssl (ECDSA P-256, a year)."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    result = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "365",
         "-subj", f"/CN={name}@{int(time.time())}", "-addext", "subjectAltName=DNS:localhost"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        fail(f"E0000 failed to create a self-signed certificate: {result.stderr.strip()}")
    os.chmod(key, 0o600)
    return cert, key


def public_key_of(path: str, *, private: bool) -> bytes:
    """The public key (PEM) of a certificate or of a private key, by openssl."""
    argv = ["openssl", "pkey", "-pubout", "-in", path] if private else [
        "openssl", "x509", "-noout", "-pubkey", "-in", path]  # fmt: skip
    result = subprocess.run(argv, capture_output=True, check=False)
    if result.returncode != 0:
        fail(f"E0000 {path}: not a PEM {'private key' if private else 'certificate'}")
    return result.stdout


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        known = self.path.split("?")[0] in {"/healthz", "/livez", "/readyz"}
        body = b"ok" if known else b"404 page not found"
        self.send_response(200 if known else 404)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


def serve_health(address: str, port: int, *, tls_name: str | None, cert_dir: str | None) -> None:
    """Answer health checks on ``address:port`` until killed (HTTPS when ``tls_name``)."""
    try:
        server = http.server.ThreadingHTTPServer((address, port), _Health)
    except OSError as error:
        fail(f"E0000 failed to listen on {address}:{port}: {error.strerror}")
    if tls_name is not None:
        # Without a cert dir the self-signed pair lives only until it is loaded: a host's /tmp
        # is the machine's, and nothing may be left there.
        scratch = None if cert_dir else tempfile.mkdtemp(prefix="kubexms-double-")
        try:
            cert, key = self_signed(Path(cert_dir or scratch or ""), tls_name)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
        finally:
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print(f"I0000 serving on {address}:{port} (kubexms test double)", flush=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    thread.join()


def require_files(flags: Mapping[str, str], names: Sequence[str]) -> None:
    """Every file the named flags point at can be read (a real component fails at start)."""
    for name in names:
        if flags.get(name):
            read_file(flags[name], f"--{name}")


def host_port(value: str, default_port: int) -> tuple[str, int]:
    """``0.0.0.0:10256`` (or empty: every address, ``default_port``) as address and port."""
    address, _, port = value.rpartition(":")
    if not address:
        return "0.0.0.0", default_port
    return address.strip("[]"), int(port)
