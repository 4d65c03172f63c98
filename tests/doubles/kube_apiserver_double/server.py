"""HTTPS serving: health, version, discovery, OpenAPI, and the object API with watches."""

from __future__ import annotations

import contextlib
import http.server
import json
import logging
import socket
import ssl
import sys
import threading
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import access_review, auth, openapi
from .admission import Attributes, NodeRestriction
from .errors import ApiError, bad_request
from .etcd import EtcdClient, EtcdError
from .health import health_report, version_document
from .rbac import Authorizer, forbidden_status
from .resources import Resource, api_versions, group_document, group_list, resource_list
from .selectors import Matcher, field_matcher, label_matcher
from .store import Admit, Json, Store
from .tables import TABLE_ACCEPT, table
from .watch import Watch

log = logging.getLogger("kube-apiserver-double")
WATCH_POLL = 0.5
WATCH_LONGEST = 1800.0


class ApiServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        context: ssl.SSLContext,
        store: Store,
        etcd: EtcdClient,
        version: str,
        anonymous_auth: bool,
        authorizer: Authorizer,
        node_restriction: NodeRestriction | None = None,
    ) -> None:
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.address_family = family
        super().__init__(address, Handler)
        self.context = context
        self.store = store
        self.etcd = etcd
        self.version = version
        self.anonymous_auth = anonymous_auth
        self.authorizer = authorizer
        self.node_restriction = node_restriction
        self.stopping = threading.Event()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A failed TLS handshake is one log line (the client's fault), not a traceback."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | ssl.SSLError | TimeoutError):
            log.info("%s: connection dropped: %s", client_address, error.__cause__ or error)
            return
        super().handle_error(request, client_address)

    def get_request(self) -> tuple[socket.socket, Any]:
        plain, address = self.socket.accept()
        # The TLS handshake happens in the request's own thread (Handler.setup), so one slow
        # client never holds up accept().
        wrapped = self.context.wrap_socket(plain, server_side=True, do_handshake_on_connect=False)
        return wrapped, address


def _query(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query, keep_blank_values=True).items()}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ApiServer
    user: auth.User

    def setup(self) -> None:
        self.request.settimeout(30)
        try:
            self.request.do_handshake()
        except (ssl.SSLError, OSError) as error:
            log.info("TLS handshake with %s failed: %s", self.client_address, error)
            self.request.close()
            raise ConnectionAbortedError from error
        self.request.settimeout(120)
        super().setup()

    def handle(self) -> None:
        with contextlib.suppress(ConnectionError, TimeoutError, ssl.SSLError):
            super().handle()

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)

    # -- responses ----------------------------------------------------------------------------
    def _send(
        self,
        code: int,
        body: bytes,
        content_type: str = "application/json",
        warnings: list[str] | None = None,
    ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Audit-Id", str(uuid.uuid4()))
        self.send_header("Cache-Control", "no-cache, private")
        for warning in warnings or []:
            quoted = warning.replace("\\", "\\\\").replace('"', '\\"')
            self.send_header("Warning", f'299 - "{quoted}"')
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, code: int, document: Any, warnings: list[str] | None = None) -> None:
        self._send(code, json.dumps(document).encode(), warnings=warnings)

    def _text(self, code: int, text: str) -> None:
        self._send(code, text.encode(), "text/plain; charset=utf-8")

    def _error(self, error: ApiError) -> None:
        self._json(error.code, error.status())

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", ""):
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():  # trailers
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _json_body(self) -> Any:
        content_type = self.headers.get("Content-Type", "")
        if "protobuf" in content_type or "cbor" in content_type:
            self._body()
            raise ApiError(
                415,
                "UnsupportedMediaType",
                f"the kubexms apiserver double reads "
                f"JSON only, not {content_type} (use kubectl create/apply -f)",
            )
        try:
            return json.loads(self._body() or b"null")
        except ValueError:
            raise bad_request(
                f"the body is not JSON (Content-Type {self.headers.get('Content-Type')})"
            ) from None

    # -- dispatch -----------------------------------------------------------------------------
    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _authenticate(self) -> auth.User | None:
        user = auth.from_certificate(self.request.getpeercert())
        if user is not None:
            return user
        header = self.headers.get("Authorization", "")
        if header:
            if self.server.store and (token := auth.from_bootstrap_token(self.server.etcd, header)):
                return token
            return None  # a bad credential is refused, never downgraded to anonymous
        return auth.ANONYMOUS if self.server.anonymous_auth else None

    def _dispatch(self, method: str) -> None:
        path = urlsplit(self.path).path.rstrip("/") or "/"
        query = _query(self.path)
        try:
            user = self._authenticate()
        except EtcdError:
            user = None
        if user is None:
            self._json(401, ApiError(401, "Unauthorized", "Unauthorized").status())
            return
        self.user = user
        parts = path.strip("/").split("/")
        is_resource = (parts[0] == "api" and len(parts) >= 3) or (
            parts[0] == "apis" and len(parts) >= 4
        )
        try:
            if not is_resource:
                if self._authorized(
                    "get" if method in ("GET", "HEAD") else method.lower(), path, {}
                ):
                    self._non_resource(method, path, query)
                return
            self._resource(method, path, query)
        except ApiError as error:
            self._error(error)
        except EtcdError as error:
            self._error(ApiError(500, "InternalError", f"etcd: {error}"))

    def _authorized(self, verb: str, path: str, request: dict[str, str]) -> bool:
        """Whether ``--authorization-mode`` allows the request (rbac.py); else the 403 sent."""
        if self.server.authorizer.decide(self.user, verb, path, request) is None:
            return True
        status = forbidden_status(self.user, verb, path, request)
        log.warning("%s", status["message"])
        self._json(403, status)
        return False

    # -- non-resource paths -------------------------------------------------------------------
    def _non_resource(self, method: str, path: str, query: dict[str, str]) -> None:
        if method not in ("GET", "HEAD"):
            self._error(ApiError(405, "MethodNotAllowed", f"{method} is not allowed on {path}"))
            return
        if path in ("/healthz", "/livez", "/readyz") or path.startswith(
            ("/healthz/", "/livez/", "/readyz/")
        ):
            server = self.server
            self._text(*health_report(path, "verbose" in query, server.etcd, server.stopping))
            return
        if path == "/version":
            self._json(200, version_document(self.server.version))
            return
        store = self.server.store
        if path == "/api":
            self._json(200, api_versions())
        elif path == "/apis":
            self._json(200, group_list(store.resources()))
        elif path == "/api/v1":
            self._json(200, resource_list("v1", store.resources()))
        elif path.startswith("/apis/"):
            parts = path.split("/")[2:]
            if len(parts) == 1:
                versions = sorted({r.version for r in store.resources() if r.group == parts[0]})
                if not versions:
                    raise ApiError(
                        404, "NotFound", "the server could not find the requested resource"
                    )
                self._json(200, group_document(parts[0], versions))
                return
            document = resource_list("/".join(parts), store.resources())
            if document is None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            self._json(200, document)
        elif path == "/openapi/v3":
            self._json(200, openapi.v3_root(store.resources()))
        elif path.startswith("/openapi/v3/"):
            document = openapi.v3_group_version(
                path.removeprefix("/openapi/v3/"), store.resources()
            )
            if document is None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            self._json(200, document)
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")

    # -- resources ----------------------------------------------------------------------------
    def _locate(self, path: str) -> tuple[Resource, str | None, str, str]:
        """(resource, namespace, name, subresource) of an object API path."""
        parts = path.strip("/").split("/")
        if parts[0] == "api" and len(parts) >= 3 and parts[1] == "v1":
            group, version, rest = "", "v1", parts[2:]
        elif parts[0] == "apis" and len(parts) >= 4:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        store = self.server.store
        namespace: str | None = None
        if rest[0] == "namespaces" and len(rest) >= 3 and store.find(group, version, rest[2]):
            namespace, rest = rest[1], rest[2:]
        resource = store.find(group, version, rest[0])
        if resource is None or len(rest) > 3:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) > 1 else ""
        subresource = rest[2] if len(rest) > 2 else ""
        approval = subresource == "approval" and resource.kind == "CertificateSigningRequest"
        if subresource and not (subresource == "status" and resource.status) and not approval:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if resource.namespaced and name and namespace is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return resource, namespace, name, subresource

    def _resource(self, method: str, path: str, query: dict[str, str]) -> None:
        resource, namespace, name, subresource = self._locate(path)
        watch = query.get("watch") in ("true", "1")
        verb = {
            "GET": "watch" if watch else ("get" if name else "list"),
            "HEAD": "get",
            "POST": "create",
            "PUT": "update",
            "PATCH": "patch",
            "DELETE": "delete" if name else "deletecollection",
        }[method]
        request = {
            "group": resource.group,
            "plural": resource.plural,
            "namespace": namespace or "",
            "name": name,
            "subresource": subresource,
        }
        if not self._authorized(verb, path, request):
            return
        if resource.review:
            if verb != "create":
                raise ApiError(
                    405,
                    "MethodNotAllowed",
                    "the server does not allow this method on the requested resource",
                )
            review = access_review.review(
                self.server.authorizer, self.user, resource, self._json_body()
            )
            self._json(201, review)
            return
        admit = self._admission(resource, namespace, name, subresource)
        store = self.server.store
        manager = query.get("fieldManager") or self._default_manager()
        validation = query.get("fieldValidation", "Warn")
        dry_run = "dryRun" in query
        if dry_run and method not in ("GET", "HEAD"):
            raise bad_request("the kubexms apiserver double does not support dryRun")
        if verb == "watch":
            matchers = self._matchers(query)
            if name:
                matchers.append(field_matcher(f"metadata.name={name}"))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.close_connection = True
            try:
                Watch(store.etcd, resource, namespace, matchers, query, self.server.stopping).run(
                    self._chunk
                )
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()
            except (ConnectionError, TimeoutError, ssl.SSLError, EtcdError):
                pass
        elif verb == "list":
            items, revision = store.list_objects(resource, namespace, self._matchers(query))
            if TABLE_ACCEPT in self.headers.get("Accept", ""):
                self._json(200, table(resource.kind, items, str(revision)))
            else:
                self._json(200, store.list_document(resource, items, revision))
        elif verb == "get":
            found = store.get(resource, namespace, name)
            if TABLE_ACCEPT in self.headers.get("Accept", ""):
                revision = found["metadata"].get("resourceVersion", "")
                self._json(200, table(resource.kind, [found], revision))
            else:
                self._json(200, found)
        elif verb == "create":
            if name:
                raise ApiError(405, "MethodNotAllowed", "POST to a named object is not allowed")
            body = self._json_body()
            if resource.kind == "CertificateSigningRequest" and isinstance(body, dict):
                # The CSR strategy's PrepareForCreate: who asked, as the authenticator said.
                spec = body.setdefault("spec", {})
                if isinstance(spec, dict):
                    for field in ("uid", "extra"):
                        spec.pop(field, None)
                    spec.update(username=self.user.name, groups=list(self.user.groups))
            created, warnings = store.create(resource, namespace, body, manager, validation, admit)
            self._json(201, created, warnings)
        elif verb == "update":
            body = self._json_body()
            replaced, warnings = store.replace(
                resource, namespace, name, body, manager, subresource, validation, admit
            )
            self._json(200, replaced, warnings)
        elif verb == "patch":
            content_type = self.headers.get("Content-Type", "")
            force = query.get("force") in ("true", "1")
            code, patched, warnings = store.patch(
                resource,
                namespace,
                name,
                content_type,
                self._body(),
                manager,
                force,
                subresource,
                validation,
                admit,
            )
            self._json(code, patched, warnings)
        elif verb == "delete":
            self._body()
            self._json(200, store.delete(resource, namespace, name, admit))
        else:  # deletecollection
            self._body()
            items, revision = store.list_objects(resource, namespace, self._matchers(query))
            for item in items:
                store.delete(resource, namespace, item["metadata"]["name"], admit)
            self._json(200, store.list_document(resource, items, revision))

    def _admission(
        self, resource: Resource, namespace: str | None, name: str, subresource: str
    ) -> Admit | None:
        """The enabled admission plugins (NodeRestriction) for this request's writes."""
        plugin = self.server.node_restriction
        if plugin is None:
            return None
        user = self.user

        def admit(operation: str, new: Json | None, old: Json | None) -> None:
            named = name
            if not named:  # a create (or one object of a deletecollection)
                metadata = (new or old or {}).get("metadata") or {}
                named = metadata.get("name") or metadata.get("generateName") or ""
            attributes = Attributes(
                operation, resource, namespace or "", named, subresource, new, old
            )
            assert plugin is not None
            plugin.admit(user, attributes)

        return admit

    def _default_manager(self) -> str:
        agent = self.headers.get("User-Agent", "unknown")
        return agent.split("/")[0]  # "kubectl/v1.32.0 (linux/amd64) ..." -> "kubectl"

    @staticmethod
    def _matchers(query: dict[str, str]) -> list[Matcher]:
        matchers = []
        if query.get("labelSelector"):
            matchers.append(label_matcher(query["labelSelector"]))
        if query.get("fieldSelector"):
            matchers.append(field_matcher(query["fieldSelector"]))
        return matchers

    def _chunk(self, event: Json) -> None:
        data = json.dumps(event).encode() + b"\n"
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()
