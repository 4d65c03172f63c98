"""Fetching one URL into one file: resumable, verified, atomic. Runs in a worker thread.

Bytes go to ``<dest>.part``; a later attempt continues it with an HTTP Range request. The part
file becomes ``dest`` by rename only after the whole content matched the expected sha256; a
mismatch deletes it. stdlib urllib is enough for this (and honours HTTP(S)_PROXY / NO_PROXY).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import re
import socket
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import IO

from kubexms import __version__
from kubexms.artifacts._errors import ChecksumMismatchError, DownloadError

_BLOCK = 1 << 16
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")
_TEXT_LIMIT = 1 << 20

NO_NETWORK_ADVICE = (
    "If this machine cannot reach it, set spec.artifacts.mirror (or --mirror) to a reachable "
    "mirror or a file:// directory, set HTTPS_PROXY for a proxy, or run `kubexms artifact "
    "download` and `kubexms artifact bundle` on a connected machine and `kubexms artifact "
    "import` the bundle here."
)

Progress = Callable[[int, int | None], None]
"""Called with (bytes just written, total size when known)."""


def _reason(error: BaseException) -> str:
    cause = error.reason if isinstance(error, urllib.error.URLError) else error
    if isinstance(cause, socket.gaierror):
        return f"the host name could not be resolved ({cause.strerror or cause})"
    if isinstance(cause, ConnectionRefusedError):
        return "the connection was refused"
    if isinstance(cause, TimeoutError | socket.timeout):
        return "the connection timed out"
    if isinstance(cause, ssl.SSLError):
        return f"TLS failed ({cause})"
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror
    return str(cause) or type(cause).__name__


def _open(url: str, offset: int, timeout: float) -> http.client.HTTPResponse:
    # Only http(s) URLs reach here (file URLs are read directly by the callers).
    request = urllib.request.Request(  # noqa: S310
        url, headers={"User-Agent": f"kubexms/{__version__}"}
    )
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        response: http.client.HTTPResponse = urllib.request.urlopen(  # noqa: S310
            request, timeout=timeout
        )
    except urllib.error.HTTPError as error:
        error.close()
        if error.code == 416:
            raise
        raise DownloadError(
            url, f"HTTP {error.code} {error.reason}", "Check the version and the URL or mirror."
        ) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
        raise DownloadError(url, _reason(error), NO_NETWORK_ADVICE) from None
    return response


def _local_path(url: str) -> Path:
    parts = urllib.parse.urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise DownloadError(url, "file URLs must name a local path (file:///dir/file)")
    return Path(urllib.request.url2pathname(parts.path))


def fetch_text(url: str, timeout: float) -> str:
    """A small text file (a published checksum file); DownloadError when it cannot be had."""
    if url.startswith("file://"):
        try:
            return _local_path(url).read_bytes()[:_TEXT_LIMIT].decode("utf-8", "replace")
        except OSError as error:
            raise DownloadError(url, _reason(error)) from None
    with _open(url, 0, timeout) as response:
        try:
            return response.read(_TEXT_LIMIT).decode("utf-8", "replace")
        except (OSError, http.client.HTTPException) as error:
            raise DownloadError(url, _reason(error), NO_NETWORK_ADVICE) from None


def part_path(dest: Path) -> Path:
    """Where an unfinished download of ``dest`` is kept."""
    return dest.with_name(dest.name + ".part")


def _hash_existing(path: Path) -> tuple[hashlib._Hash, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest, size


def _copy(source: IO[bytes], out: IO[bytes], digest: hashlib._Hash, progress: Progress) -> int:
    copied = 0
    while chunk := source.read(_BLOCK):
        out.write(chunk)
        digest.update(chunk)
        copied += len(chunk)
        progress(len(chunk), None)
    return copied


def _total_from(response: http.client.HTTPResponse, offset: int) -> int | None:
    if response.status == 206:
        match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", ""))
        if match and match.group(3) != "*":
            return int(match.group(3))
        return None
    length = response.headers.get("Content-Length")
    return int(length) if length and length.isdigit() else None


def _fetch_http(url: str, part: Path, timeout: float, progress: Progress) -> hashlib._Hash:
    offset = part.stat().st_size if part.exists() else 0
    try:
        response = _open(url, offset, timeout)
    except urllib.error.HTTPError:
        # 416: the part file already holds at least the whole content; the digest decides.
        return _hash_existing(part)[0]
    with response:
        resumed = offset > 0 and response.status == 206
        if resumed:
            match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", ""))
            resumed = bool(match and int(match.group(1)) == offset)
        total = _total_from(response, offset)
        if resumed:
            digest, _ = _hash_existing(part)
            progress(offset, total)
            mode = "ab"
        else:
            # The server sent everything (no Range support, or a changed file): start over.
            digest = hashlib.sha256()
            progress(0, total)
            mode = "wb"
        with part.open(mode) as out:
            reason = ""
            try:
                _copy(response, out, digest, progress)
            except (OSError, http.client.HTTPException) as error:
                reason = f" ({_reason(error)})"
            out.flush()
            os.fsync(out.fileno())
            kept = out.tell()
    # http.client ends a body cut short without an error: the size tells.
    if reason or (total is not None and kept < total):
        raise DownloadError(
            url,
            f"the connection was lost after {kept} bytes{reason}; the partial file "
            f"{part.name} is kept and the next attempt resumes it",
        )
    return digest


def _fetch_file(url: str, part: Path, progress: Progress) -> hashlib._Hash:
    source = _local_path(url)
    try:
        with source.open("rb") as handle:
            progress(0, source.stat().st_size)
            digest = hashlib.sha256()
            with part.open("wb") as out:
                _copy(handle, out, digest, progress)
        return digest
    except FileNotFoundError:
        raise DownloadError(url, "no such file in the mirror directory") from None
    except OSError as error:
        raise DownloadError(url, _reason(error)) from None


def fetch_to(
    url: str,
    dest: Path,
    sha256: str,
    *,
    mode: int = 0o644,
    timeout: float = 60.0,
    progress: Progress | None = None,
) -> None:
    """Fetch ``url`` (http, https or file) to ``dest``, verified against ``sha256``.

    Continues ``<dest>.part`` when there is one. On a mismatch the part file is deleted and
    ChecksumMismatchError names the URL and both digests; ``dest`` is only ever replaced by
    a verified file.
    """
    report: Progress = progress if progress is not None else (lambda _done, _total: None)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(dest)
    if url.startswith("file://"):
        digest = _fetch_file(url, part, report)
    elif url.startswith(("http://", "https://")):
        digest = _fetch_http(url, part, timeout, report)
    else:
        raise DownloadError(url, "only http, https and file URLs are supported")
    actual = digest.hexdigest()
    if actual != sha256:
        part.unlink(missing_ok=True)
        raise ChecksumMismatchError(
            f"{url}",
            sha256,
            actual,
            "The source may be corrupt or tampered with: check the mirror, the URL rewrite "
            "or the sha256 override in cluster.yaml",
        )
    os.chmod(part, mode)
    os.replace(part, dest)
    with contextlib.suppress(OSError):
        directory = os.open(dest.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
