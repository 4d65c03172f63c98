"""download(): fetched from a loopback HTTP server, verified, skipped when already there."""

# ruff: noqa: ASYNC240 - tests look at local files directly

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from kubexms.runner import ChecksumMismatchError, RunnerError, download

PAYLOAD = b"kubexms artifact\n" * 1000
DIGEST = hashlib.sha256(PAYLOAD).hexdigest()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    root = tmp_path / "www"
    root.mkdir()
    (root / "artifact.bin").write_bytes(PAYLOAD)
    requests: list[str] = []

    class Counting(_Quiet):
        def do_GET(self) -> None:
            requests.append(self.path)
            super().do_GET()

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(Counting, directory=str(root))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requests
    finally:
        server.shutdown()
        server.server_close()


async def test_download_then_skip(served: tuple[str, list[str]], tmp_path: Path) -> None:
    base, requests = served
    dest = tmp_path / "cache" / "artifact.bin"
    first = await download(f"{base}/artifact.bin", dest, sha256=DIGEST)
    second = await download(f"{base}/artifact.bin", dest, sha256=DIGEST.upper())
    assert first.changed
    assert not second.changed
    assert dest.read_bytes() == PAYLOAD
    assert requests == ["/artifact.bin"]


async def test_checksum_mismatch_leaves_nothing(
    served: tuple[str, list[str]], tmp_path: Path
) -> None:
    base, _ = served
    dest = tmp_path / "artifact.bin"
    with pytest.raises(ChecksumMismatchError, match="expected 0000"):
        await download(f"{base}/artifact.bin", dest, sha256="0" * 64)
    assert [p.name for p in tmp_path.iterdir()] == ["www"]


async def test_missing_url_and_bad_input(served: tuple[str, list[str]], tmp_path: Path) -> None:
    base, _ = served
    with pytest.raises(RunnerError, match="404"):
        await download(f"{base}/nope", tmp_path / "x", sha256=DIGEST)
    with pytest.raises(ValueError, match="only http"):
        await download("ftp://example.invalid/x", tmp_path / "x", sha256=DIGEST)
    with pytest.raises(ValueError, match="not a sha256"):
        await download(f"{base}/artifact.bin", tmp_path / "x", sha256="abc")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["www"]
