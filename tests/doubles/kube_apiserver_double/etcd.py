"""The real etcd through its v3 JSON gateway (``/v3/kv/...``), over TLS with client certificates.

Objects live under ``/registry/...`` as JSON; an object's ``resourceVersion`` is its key's
``mod_revision``, so several doubles sharing an etcd agree on versions the way apiservers do.
"""

from __future__ import annotations

import base64
import http.client
import json
import ssl
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .encryption import DecryptError, Transformer


class EtcdError(Exception):
    """No etcd endpoint answered (or one answered with an error)."""


@dataclass(frozen=True)
class KeyValue:
    key: str
    value: bytes
    create_revision: int
    mod_revision: int


def _b64(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return base64.b64encode(data).decode("ascii")


def _prefix_end(prefix: str) -> str:
    """The ``range_end`` that selects every key starting with ``prefix``."""
    data = bytearray(prefix.encode())
    data[-1] += 1
    return _b64(bytes(data))


class EtcdClient:
    """Blocking calls to the first etcd endpoint that answers (thread-safe: each thread keeps
    its own connections, so a slow watch poll never holds up a request)."""

    def __init__(
        self,
        servers: list[str],
        cafile: str | None,
        certfile: str | None,
        keyfile: str | None,
        transformer: Transformer | None = None,
    ) -> None:
        self._transformer = transformer or Transformer.identity()
        self._servers = servers
        self._context = ssl.create_default_context(cafile=cafile)
        if certfile and keyfile:
            self._context.load_cert_chain(certfile, keyfile)
        self._preferred = 0
        self._lock = threading.Lock()
        self._local = threading.local()

    def _connect(self, index: int, timeout: float) -> http.client.HTTPConnection:
        url = urlsplit(self._servers[index])
        if url.scheme == "https":
            return http.client.HTTPSConnection(
                url.hostname or "", url.port or 2379, context=self._context, timeout=timeout
            )
        return http.client.HTTPConnection(url.hostname or "", url.port or 2379, timeout=timeout)

    def _post(
        self, index: int, path: str, body: dict[str, Any], timeout: float
    ) -> tuple[int, bytes]:
        """One request on this thread's kept-alive connection to server ``index``: a TLS
        handshake per call (the controllers' and every watch's polls) cost more CPU than all
        the rest of the double and of etcd. A kept connection the server closed meanwhile is
        replaced once."""
        connections: dict[int, http.client.HTTPConnection] = self._local.__dict__.setdefault(
            "connections", {}
        )
        for attempt in (1, 2):
            connection = connections.pop(index, None)
            fresh = connection is None
            if connection is None:
                connection = self._connect(index, timeout)
            elif connection.sock is not None:
                connection.sock.settimeout(timeout)
            try:
                connection.request(
                    "POST", path, json.dumps(body), {"Content-Type": "application/json"}
                )
                response = connection.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException):
                connection.close()
                if fresh or attempt == 2:
                    raise
                continue
            if response.will_close:
                connection.close()
            else:
                connections[index] = connection
            return response.status, data
        raise AssertionError("unreachable")

    def _call(self, path: str, body: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
        errors: list[str] = []
        count = len(self._servers)
        for offset in range(count):
            index = (self._preferred + offset) % count
            try:
                status, data = self._post(index, path, body, timeout)
            except (OSError, http.client.HTTPException) as error:
                errors.append(f"{self._servers[index]}: {error}")
                continue
            if status != 200:
                errors.append(f"{self._servers[index]}: HTTP {status} {data[:200]!r}")
                continue
            with self._lock:
                self._preferred = index
            answer: dict[str, Any] = json.loads(data)
            return answer
        raise EtcdError("; ".join(errors))

    def healthy(self) -> bool:
        try:
            self._call("/v3/kv/range", {"key": _b64("health")}, timeout=2.0)
        except EtcdError:
            return False
        return True

    def revision(self) -> int:
        answer = self._call("/v3/kv/range", {"key": _b64("/registry/"), "count_only": True})
        return int(answer.get("header", {}).get("revision", 0))

    def get(self, key: str) -> KeyValue | None:
        answer = self._call("/v3/kv/range", {"key": _b64(key)})
        found = self._kvs(answer)
        return found[0] if found else None

    def get_stored(self, key: str) -> bytes | None:
        """The value exactly as etcd holds it (encrypted values stay encrypted)."""
        answer = self._call("/v3/kv/range", {"key": _b64(key)})
        items = answer.get("kvs", [])
        return base64.b64decode(items[0].get("value", "")) if items else None

    def list_prefix(self, prefix: str) -> tuple[list[KeyValue], int]:
        """Every key under ``prefix`` and the store's revision at that moment."""
        answer = self._call("/v3/kv/range", {"key": _b64(prefix), "range_end": _prefix_end(prefix)})
        return self._kvs(answer), int(answer.get("header", {}).get("revision", 0))

    def create(self, key: str, value: bytes) -> int | None:
        """Put ``key`` only if absent; its new revision, or None when it exists."""
        return self._txn(key, {"target": "CREATE", "create_revision": "0"}, value)

    def update(self, key: str, value: bytes, mod_revision: int) -> int | None:
        """Put ``key`` only if unchanged since ``mod_revision``; None on a conflict."""
        return self._txn(key, {"target": "MOD", "mod_revision": str(mod_revision)}, value)

    def delete(self, key: str, mod_revision: int | None = None) -> bool:
        compare = [{"key": _b64(key), "target": "MOD", "mod_revision": str(mod_revision)}]
        answer = self._call(
            "/v3/kv/txn",
            {
                "compare": compare if mod_revision is not None else [],
                "success": [{"request_delete_range": {"key": _b64(key)}}],
            },
        )
        return bool(answer.get("succeeded"))

    def delete_prefix(self, prefix: str) -> None:
        self._call("/v3/kv/deleterange", {"key": _b64(prefix), "range_end": _prefix_end(prefix)})

    def _txn(self, key: str, compare: dict[str, str], value: bytes) -> int | None:
        value = self._transformer.to_storage(key, value)
        answer = self._call(
            "/v3/kv/txn",
            {
                "compare": [{"key": _b64(key), **compare}],
                "success": [{"request_put": {"key": _b64(key), "value": _b64(value)}}],
            },
        )
        if not answer.get("succeeded"):
            return None
        return int(answer["header"]["revision"])

    def _kvs(self, answer: dict[str, Any]) -> list[KeyValue]:
        found = []
        for item in answer.get("kvs", []):
            key = base64.b64decode(item["key"]).decode()
            try:
                value = self._transformer.from_storage(key, base64.b64decode(item.get("value", "")))
            except DecryptError as error:
                raise EtcdError(f"cannot decrypt: {error}") from None
            found.append(
                KeyValue(
                    key=key,
                    value=value,
                    create_revision=int(item.get("create_revision", 0)),
                    mod_revision=int(item.get("mod_revision", 0)),
                )
            )
        return found
