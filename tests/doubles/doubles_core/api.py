"""A small HTTPS client for the API server (double): client-certificate, bootstrap-token or
anonymous requests, with the CA verified (or, for kubeadm's discovery, not yet). Every double
that talks to the API server uses it (kubeadm, the kubelet, the control-plane components)."""

from __future__ import annotations

import http.client
import json
import os
import ssl
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


class KubeconfigError(Exception):
    """A kubeconfig that cannot be used (unreadable, no current context, bad base64)."""


class ApiError(Exception):
    """The API server answered with an error status (``status`` kept) or not at all."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class Client:
    """Requests to ``server`` (``https://host:port``)."""

    def __init__(
        self,
        server: str,
        ca_pem: bytes | None,
        *,
        cert_pem: bytes | None = None,
        key_pem: bytes | None = None,
        token: str | None = None,
    ) -> None:
        parts = urlsplit(server)
        self.server = server.rstrip("/")
        self.host = parts.hostname or ""
        self.port = parts.port or 443
        self.token = token
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if ca_pem is None:
            self.context.check_hostname = False
            self.context.verify_mode = ssl.CERT_NONE
        else:
            self.context.load_verify_locations(cadata=ca_pem.decode())
        if cert_pem is not None and key_pem is not None:
            with tempfile.TemporaryDirectory() as scratch:
                cert, key = Path(scratch, "c.pem"), Path(scratch, "k.pem")
                fd = os.open(key, os.O_WRONLY | os.O_CREAT, 0o600)
                os.write(fd, key_pem)
                os.close(fd)
                cert.write_bytes(cert_pem)
                self.context.load_cert_chain(cert, key)

    retry_seconds = 0.0
    """How long a request that reaches no API server (a connection error, a 5xx) is retried,
    as kubeadm's client retries while a load balancer has not yet seen a backend come up."""

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        timeout: float = 10,
        content_type: str = "application/json",
    ) -> Any:
        deadline = time.monotonic() + self.retry_seconds
        while True:
            try:
                return self._request(method, path, body, timeout, content_type)
            except ApiError as error:
                if (error.status and error.status < 500) or time.monotonic() > deadline:
                    raise
            time.sleep(2)

    def _request(self, method: str, path: str, body: Any, timeout: float, content_type: str) -> Any:
        connection = http.client.HTTPSConnection(
            self.host, self.port, context=self.context, timeout=timeout
        )
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = content_type
        try:
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            text = response.read()
        except (OSError, http.client.HTTPException) as error:
            raise ApiError(f"{method} https://{self.host}:{self.port}{path}: {error}") from None
        finally:
            connection.close()
        if response.status >= 400:
            try:
                message = json.loads(text).get("message", text.decode(errors="replace"))
            except ValueError:
                message = text.decode(errors="replace")
            raise ApiError(f"{method} {path}: {response.status} {message}", response.status)
        if not text.strip():
            return None
        try:
            return json.loads(text)
        except ValueError:  # /healthz and friends answer plain text
            return text.decode(errors="replace")

    def get(self, path: str) -> Any:
        return self.request("GET", path)

    def request_patch(self, path: str, body: Any) -> Any:
        """A JSON merge patch (what the kubelet sends for its Node's status)."""
        return self.request("PATCH", path, body, content_type="application/merge-patch+json")

    def put_object(self, collection: str, document: dict[str, Any]) -> Any:
        """Create ``document`` in ``collection``, or replace the one of that name."""
        try:
            return self.request("POST", collection, document)
        except ApiError as error:
            if error.status != 409:
                raise
        path = f"{collection}/{document['metadata']['name']}"
        current = self.get(path)
        document["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        return self.request("PUT", path, document)


def wait_healthy(client: Client, seconds: float) -> None:
    """Until ``/healthz`` answers ``ok`` as ``client`` (mutual TLS when it has a certificate),
    retried each second; ApiError with the last answer after ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            client.request("GET", "/healthz", timeout=5)
            return
        except ApiError as error:
            if time.monotonic() > deadline:
                raise ApiError(
                    f"the API server {client.server} did not answer /healthz: {error}", error.status
                ) from None
        time.sleep(1)


def peer_chain(server: str, timeout: float = 10) -> bytes:
    """The PEM certificate ``server`` presents (no verification: discovery pins it later)."""
    parts = urlsplit(server)
    return ssl.get_server_certificate(
        (parts.hostname or "", parts.port or 443), timeout=timeout
    ).encode()


def from_kubeconfig(path: Path, resolve: Callable[[str], Path] = Path) -> Client:
    """A client for a kubeconfig's current context: its server and CA, and its client
    certificate (inline or by path, ``resolve`` mapping such a path to where it is) or token.
    KubeconfigError naming the file when it cannot be used."""
    import yaml

    try:
        client = _from_document(yaml.safe_load(path.read_text()), resolve)
    except OSError as error:
        raise KubeconfigError(f"invalid kubeconfig {path}: {error.strerror}") from None
    except (yaml.YAMLError, KeyError, StopIteration, TypeError, ValueError, ssl.SSLError) as error:
        raise KubeconfigError(f"invalid kubeconfig {path}: {error!r}") from None
    if not client.server.startswith("https://"):
        raise KubeconfigError(f"invalid kubeconfig {path}: the server is not https")
    return client


def _from_document(document: Any, resolve: Callable[[str], Path]) -> Client:
    import base64

    current = document.get("current-context")
    context = next(c["context"] for c in document.get("contexts") or [] if c["name"] == current)
    cluster = next(
        c["cluster"] for c in document.get("clusters") or [] if c["name"] == context["cluster"]
    )
    user = next(u["user"] for u in document.get("users") or [] if u["name"] == context["user"])

    def data(key: str) -> bytes | None:
        if f"{key}-data" in user:
            return base64.b64decode(user[f"{key}-data"])
        if key in user:
            return resolve(user[key]).read_bytes()
        return None

    ca = base64.b64decode(cluster["certificate-authority-data"], validate=True)
    return Client(
        cluster["server"],
        ca,
        cert_pem=data("client-certificate"),
        key_pem=data("client-key"),
        token=user.get("token"),
    )
