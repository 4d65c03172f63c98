"""A small CRI client for the tests (never shipped): what the kubelet asks containerd, with
nothing of its own added.

crictl has no Debian package, and ``ctr images pull --user`` passes a login on its command
line, which proves nothing about the login kubexms configured for the CRI. This client speaks
gRPC over containerd's unix socket, as the kubelet does:

- ``runtime.v1.ImageService/PullImage`` with no ``auth`` in the request, so containerd's CRI
  plugin must use the login and the TLS trust kubexms configured (config.toml's
  ``registry.configs."<host>".auth`` and ``certs.d/<host>/``);
- ``runtime.v1.RuntimeService/Status``: the CRI answers, and its runtime and network
  conditions.

The few protobuf messages are encoded by hand (field numbers from ``k8s.io/cri-api``'s
``pkg/apis/runtime/v1/api.proto``): grpcio is the only dependency, and the codec is tested
without it (tests/unit/containerd/test_cri_client.py). It runs on a fleet host
with the host's Python and Debian's ``python3-grpcio`` (the machine's /usr is every host's
lower layer), the program given on stdin (:func:`host_command`)::

    python3 - pull REGISTRY/IMAGE:TAG < cri_client.py   # prints the image ref
    python3 - status < cri_client.py                    # prints the conditions

On a gRPC error it prints ``<status code>: <details>`` to stderr and exits 1.

Named ``crictl`` (:func:`crictl_double`: the crictl artifact of the tests' runtime release,
since crictl has no Debian package), it is a double of crictl that does for real the little the
container-runtime phase asks of crictl: ``crictl --version`` (saying it is a double) and
``crictl [--runtime-endpoint URL] info`` (the CRI's Status, as JSON); anything else is refused.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

SOCKET = "/run/containerd/containerd.sock"
PULL_IMAGE = "/runtime.v1.ImageService/PullImage"
STATUS = "/runtime.v1.RuntimeService/Status"
CLIENT = Path(__file__).resolve()
SYSTEM_PYTHON = "/usr/bin/python3"
CRICTL_VERSION = "v1.27.0"
CRICTL_CONFIG = "/etc/crictl.yaml"
DOUBLE_MARK = "(kubexms test double)"

_VARINT = 0
_LENGTH_DELIMITED = 2


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _bytes_field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | _LENGTH_DELIMITED) + _varint(len(payload)) + payload


def _read_varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(data):
            raise ValueError("truncated varint")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, at
        shift += 7


def fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """A message's (field number, value) pairs in order: an int for varints, bytes for
    length-delimited fields (strings, messages, map entries). Other wire types are refused."""
    found: list[tuple[int, int | bytes]] = []
    at = 0
    while at < len(data):
        key, at = _read_varint(data, at)
        number, wire = key >> 3, key & 7
        if wire == _VARINT:
            value, at = _read_varint(data, at)
            found.append((number, value))
        elif wire == _LENGTH_DELIMITED:
            size, at = _read_varint(data, at)
            if at + size > len(data):
                raise ValueError(f"field {number}: truncated")
            found.append((number, data[at : at + size]))
            at += size
        else:
            raise ValueError(f"field {number}: wire type {wire} is not used by these messages")
    return found


def _strings(data: bytes, number: int) -> list[str]:
    return [v.decode() for n, v in fields(data) if n == number and isinstance(v, bytes)]


def encode_pull_image_request(image: str) -> bytes:
    """PullImageRequest{image: ImageSpec{image}}: no auth (2), no sandbox config (3)."""
    return _bytes_field(1, _bytes_field(1, image.encode()))


def decode_pull_image_response(data: bytes) -> str:
    """PullImageResponse.image_ref (1)."""
    refs = _strings(data, 1)
    if len(refs) != 1:
        raise ValueError(f"PullImageResponse without one image_ref: {data!r}")
    return refs[0]


def encode_status_request(verbose: bool = False) -> bytes:
    """StatusRequest{verbose (1)}; proto3 leaves a false bool out."""
    return _varint(1 << 3 | _VARINT) + _varint(1) if verbose else b""


@dataclass(frozen=True)
class RuntimeCondition:
    """RuntimeCondition{type (1), status (2), reason (3), message (4)}."""

    type: str
    status: bool
    reason: str
    message: str


def decode_status_response(data: bytes) -> list[RuntimeCondition]:
    """StatusResponse.status (1): RuntimeStatus.conditions (1)."""
    conditions: list[RuntimeCondition] = []
    for number, status in fields(data):
        if number != 1 or not isinstance(status, bytes):
            continue
        for inner, condition in fields(status):
            if inner != 1 or not isinstance(condition, bytes):
                continue
            values = dict(fields(condition))
            text = {k: v.decode() for k, v in values.items() if isinstance(v, bytes)}
            conditions.append(
                RuntimeCondition(
                    type=text.get(1, ""),
                    status=bool(values.get(2, 0)),
                    reason=text.get(3, ""),
                    message=text.get(4, ""),
                )
            )
    return conditions


def _call(socket: str, method: str, request: bytes, timeout: float) -> bytes:
    import grpc  # only where the client runs: the fleet host's python3-grpcio

    with grpc.insecure_channel(f"unix://{socket}") as channel:
        call: grpc.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(method)
        response = call(request, timeout=timeout)
        assert isinstance(response, bytes)
        return response


def pull_image(image: str, *, socket: str = SOCKET, timeout: float = 60.0) -> str:
    """Pull ``image`` through the CRI with no credentials of ours; the image ref it gives."""
    response = _call(socket, PULL_IMAGE, encode_pull_image_request(image), timeout)
    return decode_pull_image_response(response)


def runtime_status(*, socket: str = SOCKET, timeout: float = 10.0) -> list[RuntimeCondition]:
    """The CRI's runtime conditions (RuntimeReady, NetworkReady)."""
    return decode_status_response(_call(socket, STATUS, encode_status_request(), timeout))


def host_command(*args: str) -> tuple[str, bytes]:
    """(command, stdin) that run this client with ``args`` inside a fleet host: the host's
    Python with Debian's python3-grpcio (.ci/test-packages.txt; hosts see the machine's /usr),
    this file as the program on stdin (hosts do not see the checkout)."""
    return shlex.join([SYSTEM_PYTHON, "-", *args]), CLIENT.read_bytes()


def crictl_double() -> bytes:
    """This client as an executable ``crictl`` double (see the module docstring)."""
    return f"#!{SYSTEM_PYTHON}\n".encode() + CLIENT.read_bytes()


def _crictl_endpoint(given: str | None) -> str:
    """The socket: ``--runtime-endpoint``, else crictl.yaml's ``runtime-endpoint``."""
    if given is None:
        try:
            lines = Path(CRICTL_CONFIG).read_text().splitlines()
        except OSError:
            lines = []
        for line in lines:
            key, _, value = line.partition(":")
            if key.strip() == "runtime-endpoint":
                given = value.strip().strip("'\"")
    if given is None:
        raise SystemExit(f"crictl {DOUBLE_MARK}: no --runtime-endpoint and none in {CRICTL_CONFIG}")
    if not given.startswith("unix://"):
        raise SystemExit(f"crictl {DOUBLE_MARK}: only unix:// endpoints, not {given}")
    return given.removeprefix("unix://")


def crictl_main(argv: Sequence[str]) -> int:
    """crictl's ``--version`` and ``info`` (the CRI's Status); anything else is refused."""
    parser = argparse.ArgumentParser(prog="crictl")
    parser.add_argument("--version", "-v", action="store_true")
    parser.add_argument("--runtime-endpoint", "-r")
    parser.add_argument("command", nargs="?", choices=["info"])
    args = parser.parse_args(argv)
    if args.version:
        print(f"crictl version {CRICTL_VERSION} {DOUBLE_MARK}")
        return 0
    if args.command is None:
        parser.error("a command is needed (this double knows only: info)")
    import grpc

    try:
        conditions = runtime_status(socket=_crictl_endpoint(args.runtime_endpoint))
    except grpc.RpcError as error:
        details = error.details() if isinstance(error, grpc.Call) else str(error)
        print(f"getting status of runtime: {details}", file=sys.stderr)
        return 1
    print(json.dumps({"status": {"conditions": [vars(c) for c in conditions]}}, indent=2))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--socket", default=SOCKET)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("pull").add_argument("image")
    commands.add_parser("status")
    args = parser.parse_args(argv)
    import grpc

    try:
        if args.command == "pull":
            print(pull_image(args.image, socket=args.socket))
        else:
            conditions = runtime_status(socket=args.socket)
            print(json.dumps([vars(c) for c in conditions]))
    except grpc.RpcError as error:
        code = error.code() if isinstance(error, grpc.Call) else None
        details = error.details() if isinstance(error, grpc.Call) else str(error)
        print(f"{code.name if code else 'UNKNOWN'}: {details}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(crictl_main(sys.argv[1:]) if Path(sys.argv[0]).name == "crictl" else main())
