"""Which etcd cluster a data directory belongs to, without starting etcd.

etcd derives a bootstrapped cluster's id from its initial members (their peer URLs and the
cluster token), and writes it into the first record of every write-ahead log. So kubexms can
tell, before it starts anything, whether a data dir holds *this* cluster's data or another's,
and refuse the latter instead of starting a member that would join (or wipe) the wrong cluster.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence

from kubexms.etcd._layout import EtcdMember

_METADATA_RECORD = 1


def member_id(peer_urls: Sequence[str], token: str) -> int:
    """etcd's id of a member of the initial cluster (``computeMemberId`` without a time)."""
    data = "".join(sorted(peer_urls)).encode() + token.encode()
    return int.from_bytes(hashlib.sha1(data).digest()[:8], "big")  # noqa: S324 - etcd's scheme


def cluster_id(members: Sequence[EtcdMember], token: str) -> int:
    """etcd's id of a cluster bootstrapped with ``members`` and ``token`` (``genID``)."""
    ids = sorted(member_id([member.peer_url], token) for member in members)
    data = b"".join(struct.pack(">Q", value) for value in ids)
    return int.from_bytes(hashlib.sha1(data).digest()[:8], "big")  # noqa: S324 - etcd's scheme


def format_id(value: int) -> str:
    """An id as etcd prints it (hex, no padding)."""
    return f"{value:x}"


def _varint(data: bytes, offset: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if offset >= len(data):
            raise ValueError("truncated varint")
        byte = data[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, offset
        shift += 7


def _fields(message: bytes) -> dict[int, int | bytes]:
    """The varint and length-delimited fields of a protobuf message (last one wins)."""
    found: dict[int, int | bytes] = {}
    offset = 0
    while offset < len(message):
        key, offset = _varint(message, offset)
        number, wire = key >> 3, key & 7
        if wire == 0:
            found[number], offset = _varint(message, offset)
        elif wire == 2:
            length, offset = _varint(message, offset)
            found[number] = message[offset : offset + length]
            offset += length
        elif wire == 5:
            offset += 4
        elif wire == 1:
            offset += 8
        else:
            raise ValueError(f"unexpected protobuf wire type {wire}")
    return found


def wal_cluster_id(head: bytes) -> int | None:
    """The cluster id in the metadata record of a WAL file's first bytes; None if not found.

    A WAL is a sequence of frames: an 8-byte little-endian length (the top byte holds padding
    bits), the ``walpb.Record`` {type, crc, data} and its padding. The metadata record's data
    is ``etcdserverpb.Metadata`` {NodeID = 1, ClusterID = 2}.
    """
    offset = 0
    while offset + 8 <= len(head):
        (frame,) = struct.unpack_from("<Q", head, offset)
        length = frame & 0x00FFFFFFFFFFFFFF
        padding = (frame >> 56) & 0x7 if frame >> 63 else 0
        offset += 8
        if length == 0 or offset + length > len(head):
            return None
        record = _fields(head[offset : offset + length])
        offset += length + padding
        if record.get(1) == _METADATA_RECORD:
            data = record.get(3, b"")
            if not isinstance(data, bytes):
                return None
            value = _fields(data).get(2)
            return value if isinstance(value, int) else None
    return None
