"""The kubelet's two listeners: its API (``address``:``port``, 10250) over HTTPS with its
serving certificate, clients authenticated by a certificate of ``authentication.x509
.clientCAFile`` (anything else is 401, as with anonymous authentication off, the
KubeletConfiguration's default), and ``/healthz`` over plain HTTP on
``healthzBindAddress``:``healthzPort`` (127.0.0.1:10248).

The serving pair is ``tlsCertFile``/``tlsPrivateKeyFile`` when given (both, readable, matching,
as the real kubelet checks at start); otherwise the real kubelet makes a self-signed pair
``kubelet.crt``/``kubelet.key`` in ``--cert-dir`` (/var/lib/kubelet/pki) and so does this one.
"""

from __future__ import annotations

import datetime as dt
import http.server
import ssl
import threading
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ._core import host, write
from .bootstrap import KubeletError

CERT_DIR = "/var/lib/kubelet/pki"


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        secure = isinstance(self.request, ssl.SSLSocket)
        if secure and not self.request.getpeercert():
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


def _public(pem: bytes, *, private: bool) -> bytes:
    if private:
        key = serialization.load_pem_private_key(pem, password=None)
        public = key.public_key()
    else:
        public = x509.load_pem_x509_certificate(pem).public_key()
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _self_signed(cert_dir: str, name: str) -> tuple[str, str]:
    """``kubelet.crt``/``kubelet.key`` in ``cert_dir``, made once (as the real kubelet does)."""
    cert, key = f"{cert_dir}/kubelet.crt", f"{cert_dir}/kubelet.key"
    if host(cert).is_file() and host(key).is_file():
        return cert, key
    private = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name}-ca@kubexms-double")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(private, hashes.SHA256())
    )
    write(cert, certificate.public_bytes(serialization.Encoding.PEM), 0o644)
    key_pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    write(key, key_pem, 0o600)
    return cert, key


def serving_context(config: dict[str, Any], cert_dir: str, name: str) -> ssl.SSLContext:
    """The TLS context of port 10250 (see the module docstring); KubeletError when the files
    the configuration names cannot be used."""
    cert, key = config.get("tlsCertFile"), config.get("tlsPrivateKeyFile")
    if bool(cert) != bool(key):
        raise KubeletError("tlsCertFile and tlsPrivateKeyFile must be given together")
    if not cert or not key:
        cert, key = _self_signed(cert_dir, name)
    try:
        cert_pem, key_pem = host(str(cert)).read_bytes(), host(str(key)).read_bytes()
    except OSError as error:
        raise KubeletError(f"failed to load the serving pair: open {error.filename}: "
                           f"{(error.strerror or 'error').lower()}") from None  # fmt: skip
    try:
        matching = _public(cert_pem, private=False) == _public(key_pem, private=True)
    except ValueError as error:
        raise KubeletError(f"invalid serving pair {cert}, {key}: {error}") from None
    if not matching:
        raise KubeletError(f"tls: private key does not match public key ({cert}, {key})")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(host(str(cert)), host(str(key)))
    client_ca = ((config.get("authentication") or {}).get("x509") or {}).get("clientCAFile")
    if client_ca:
        try:
            context.load_verify_locations(cadata=host(client_ca).read_text())
        except OSError as error:
            raise KubeletError(f"unable to load client CA file {client_ca}: "
                               f"{(error.strerror or 'error').lower()}") from None  # fmt: skip
        context.verify_mode = ssl.CERT_OPTIONAL
    return context


def listen(address: str, port: int, context: ssl.SSLContext | None) -> threading.Thread:
    """Serve on ``address:port`` in a thread (HTTPS with ``context``, else HTTP)."""
    try:
        server = http.server.ThreadingHTTPServer((address, port), _Handler)
    except OSError as error:
        raise KubeletError(f"failed to listen on {address}:{port}: {error.strerror}") from None
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread
