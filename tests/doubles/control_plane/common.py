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

The data (flag lists, schemas) is read from the package's ``data/`` directory when the double
runs as the release file tests build (``build.py``), else from this checkout.
"""

from __future__ import annotations

import base64
import http.server
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, NoReturn

import yaml

CHECKOUT = Path(__file__).resolve().parents[3]
CHECKOUT_DATA = {
    "flags": CHECKOUT / "src" / "kubexms" / "kubernetes" / "binary" / "flags",
    "schemas": CHECKOUT / "tests" / "fixtures" / "k8s_schemas",
}
VERSION_VARIABLE = "KUBEXMS_DOUBLE_VERSION"
API_WAIT_VARIABLE = "KUBEXMS_DOUBLE_API_WAIT"
"""Seconds to wait for the API server before the fatal error (default 60; tests shorten it)."""


def fail(message: str, code: int = 1) -> NoReturn:
    """End the process the way the real component ends on a fatal error."""
    print(message, file=sys.stderr, flush=True)
    sys.exit(code)


def data_text(kind: str, name: str) -> str:
    """A data file (``flags`` or ``schemas``): the release file's copy, else the checkout's."""
    packaged = resources.files(__package__).joinpath("data", kind, name)
    if packaged.is_file():
        return packaged.read_text()
    return (CHECKOUT_DATA[kind] / name).read_text()


def checked_version(value: str) -> str:
    """``v1.31.4`` (a leading v added); fatal when ``value`` is no such version."""
    if not re.fullmatch(r"v?\d+\.\d+\.\d+", value or ""):
        fail(f"kubexms test double: no version to play ({VERSION_VARIABLE}=v1.31.4)")
    return value if value.startswith("v") else f"v{value}"


def minor_of(version: str) -> str:
    major, minor = version.lstrip("v").split(".")[:2]
    return f"{major}.{minor}"


def _minor_key(minor: str) -> tuple[int, int]:
    major, number = minor.split(".")
    return int(major), int(number)


def _apply(base: set[str], changes: Mapping[str, Any], minor: str) -> set[str]:
    for at in sorted(changes, key=_minor_key):
        if _minor_key(at) > _minor_key(minor):
            break
        change = changes[at] or {}
        base |= set(change.get("added", ()))
        base -= set(change.get("removed", ()))
    return base


def component_flags(component: str, minor: str) -> frozenset[str]:
    """The flags of ``component`` at ``minor``, read as kubexms reads its data files."""
    common = yaml.safe_load(data_text("flags", "_common.yaml"))
    document = yaml.safe_load(data_text("flags", f"{component}.yaml"))
    flags = set(document["flags"])
    for group in document["groups"]:
        members = set(common["groups"][group])
        flags |= _apply(members, (common.get("changes") or {}).get(group, {}), minor)
    return frozenset(_apply(flags, document.get("changes") or {}, minor))


def parse_flags(component: str, version: str, argv: Sequence[str]) -> dict[str, str]:
    """``argv`` as flags of ``component`` at ``version``, with cobra's refusals, ``--version``
    and ``--help``."""
    known = component_flags(component, minor_of(version))
    flags: dict[str, str] = {}
    for word in argv:
        if not word.startswith("--"):
            fail(f'Error: unknown command "{word}" for "{component}"')
        name, has_value, value = word[2:].partition("=")
        if name not in known:
            fail(f"Error: unknown flag: --{name}\nRun '{component} --help' for usage.")
        flags[name] = value if has_value else "true"
    if "version" in flags:
        print(f"Kubernetes {version} (kubexms test double)", flush=True)
        sys.exit(0)
    if "help" in flags:
        print(f"{component} {version} (kubexms test double); flags: {' '.join(sorted(known))}")
        sys.exit(0)
    return flags


def read_file(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        fail(f"E0000 {what}: open {path}: {error.strerror}")


# A validator for the subset of JSON Schema the k8s_schemas use (no jsonschema on the hosts).
_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "number": (int, float),
    "null": (type(None),),
}


def _is(value: Any, name: str) -> bool:
    if name in {"integer", "number"} and isinstance(value, bool):
        return False
    return isinstance(value, _TYPES[name])


def schema_errors(
    value: Any, schema: Mapping[str, Any], root: Mapping[str, Any], at: str
) -> list[str]:
    """Where ``value`` breaks ``schema`` (empty: valid)."""
    if "$ref" in schema:
        target: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return schema_errors(value, target, root, at)
    found: list[str] = []
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        if not any(_is(value, name) for name in names):
            return [f"{at}: expected {' or '.join(names)}, got {type(value).__name__}"]
    if "const" in schema and value != schema["const"]:
        found.append(f"{at}: must be {schema['const']!r}")
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{at}: must be one of {schema['enum']}")
    if isinstance(value, str) and "pattern" in schema and not re.search(schema["pattern"], value):
        found.append(f"{at}: {value!r} does not match {schema['pattern']}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            found.append(f"{at}: below {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            found.append(f"{at}: above {schema['maximum']}")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for name in schema.get("required", ()):
            if name not in value:
                found.append(f"{at}: missing required field {name!r}")
        extra = schema.get("additionalProperties", True)
        for name, item in value.items():
            where = f"{at}.{name}" if at else name
            if name in properties:
                found += schema_errors(item, properties[name], root, where)
            elif extra is False:
                found.append(f'{where}: unknown field "{name}"')
            elif isinstance(extra, dict):
                found += schema_errors(item, extra, root, where)
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            found += schema_errors(item, schema["items"], root, f"{at}[{index}]")
    return found


def load_config(path: str, kind: str, version: str) -> dict[str, Any]:
    """The configuration file at ``path``, validated strictly as ``kind`` of ``version``."""
    try:
        document = yaml.safe_load(read_file(path, f"failed to read {kind}"))
    except yaml.YAMLError as error:
        fail(f"E0000 couldn't decode {path}: {error}")
    if not isinstance(document, dict) or document.get("kind") != kind:
        fail(f"E0000 {path}: no kind {kind!r} is registered for this file")
    schema = json.loads(data_text("schemas", f"{kind}-{minor_of(version)}.json"))
    errors = schema_errors(document, schema, schema, "")
    if errors:
        fail(f"E0000 {path}: strict decoding error: {errors[0]}")
    return document


def _current(document: Mapping[str, Any], section: str, name: str) -> dict[str, Any]:
    for item in document.get(section) or []:
        if isinstance(item, dict) and item.get("name") == name:
            entry = item.get(section.rstrip("s"))
            if isinstance(entry, dict):
                return entry
    raise ValueError(f"no {section.rstrip('s')} named {name!r}")


class ApiClient:
    """A client of the API server named by a kubeconfig, authenticated by its certificate."""

    def __init__(self, kubeconfig: str) -> None:
        try:
            document = yaml.safe_load(read_file(kubeconfig, "invalid kubeconfig"))
            context = _current(document, "contexts", document["current-context"])
            cluster = _current(document, "clusters", context["cluster"])
            user = _current(document, "users", context["user"])
            server = str(cluster["server"])
            ca = base64.b64decode(cluster["certificate-authority-data"], validate=True)
            cert = base64.b64decode(user["client-certificate-data"], validate=True)
            key = base64.b64decode(user["client-key-data"], validate=True)
        except (yaml.YAMLError, KeyError, TypeError, ValueError) as error:
            fail(f"E0000 invalid kubeconfig {kubeconfig}: {error}")
        if not server.startswith("https://"):
            fail(f"E0000 invalid kubeconfig {kubeconfig}: the server is not https")
        self.server = server.rstrip("/")
        self.context = ssl.create_default_context(cadata=ca.decode())
        private = Path(tempfile.mkdtemp(prefix="kubexms-double-"))
        try:
            (private / "tls.crt").write_bytes(cert)
            key_file = private / "tls.key"
            key_file.touch(mode=0o600)
            key_file.write_bytes(key)
            self.context.load_cert_chain(private / "tls.crt", key_file)
        finally:
            shutil.rmtree(private, ignore_errors=True)

    def get(self, path: str) -> tuple[int, bytes]:
        return self.request("GET", path)

    def request(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> tuple[int, bytes]:
        """One request as this client (a JSON ``body`` when given); status and body."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # noqa: S310  (https, checked)
            self.server + path, data=data, method=method,
            headers={"Content-Type": content_type, "Accept": "application/json"},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=5) as response:  # noqa: S310
                return int(response.status), response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def wait_healthy(self) -> None:
        """Until ``/healthz`` answers 200 over mutual TLS; fatal after the wait."""
        deadline = time.monotonic() + float(os.environ.get(API_WAIT_VARIABLE, "60"))
        last = ""
        while time.monotonic() < deadline:
            try:
                status, body = self.get("/healthz")
            except (OSError, ssl.SSLError) as error:
                last = str(error)
            else:
                if status == 200:
                    return
                last = f"HTTP {status}: {body[:200]!r}"
            time.sleep(1)
        fail(f"E0000 the API server {self.server} did not answer /healthz: {last}")


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
