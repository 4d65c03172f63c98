"""The CRI client's hand-made protobuf codec (tests/cri_client.py), against bytes worked out
from ``k8s.io/cri-api``'s api.proto field numbers; the client itself runs on the fleet
(tests/integration/test_registry_fleet.py)."""

from __future__ import annotations

import pytest

from tests.cri_client import (
    RuntimeCondition,
    decode_pull_image_response,
    decode_status_response,
    encode_pull_image_request,
    encode_status_request,
    fields,
)


def test_a_pull_request_holds_the_image_spec_and_no_auth() -> None:
    # PullImageRequest{image (1): ImageSpec{image (1): "r:5443/a:1"}}
    assert encode_pull_image_request("r:5443/a:1") == b"\x0a\x0c\x0a\x0ar:5443/a:1"


def test_a_long_image_name_takes_a_two_byte_length() -> None:
    name = "r/" + "x" * 200
    encoded = encode_pull_image_request(name)
    assert encoded[:4] == b"\x0a\xcd\x01\x0a"
    assert encoded[4:6] == b"\xca\x01"
    ((number, spec),) = fields(encoded)
    assert number == 1
    assert isinstance(spec, bytes)
    assert fields(spec) == [(1, name.encode())]


def test_the_pull_response_gives_its_image_ref() -> None:
    assert decode_pull_image_response(b"\x0a\x0dsha256:abcdef") == "sha256:abcdef"
    with pytest.raises(ValueError, match="image_ref"):
        decode_pull_image_response(b"")


def test_status_conditions_are_read_and_the_info_map_skipped() -> None:
    assert encode_status_request() == b""
    assert encode_status_request(verbose=True) == b"\x08\x01"
    ready = b"\x0a\x0cRuntimeReady\x10\x01"
    network = b"\x0a\x0cNetworkReady\x1a\x0fNetworkNotReady\x22\x03cni"
    status = b"\x0a" + bytes([len(ready)]) + ready + b"\x0a" + bytes([len(network)]) + network
    info = b"\x12\x07\x0a\x01k\x12\x02{}"  # info (2): a map entry {key: "k", value: "{}"}
    response = b"\x0a" + bytes([len(status)]) + status + info
    assert decode_status_response(response) == [
        RuntimeCondition("RuntimeReady", True, "", ""),
        RuntimeCondition("NetworkReady", False, "NetworkNotReady", "cni"),
    ]


def test_truncated_or_foreign_wire_types_are_refused() -> None:
    with pytest.raises(ValueError, match="truncated"):
        fields(b"\x0a\x05ab")
    with pytest.raises(ValueError, match="wire type 5"):
        fields(b"\x0d\x00\x00\x00\x00")
