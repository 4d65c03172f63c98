"""Downloads to the control machine, verified by sha256 before they are used."""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from kubexms.runner._change import Change
from kubexms.runner._errors import ChecksumMismatchError, RunnerError

_BLOCK = 1 << 20
_HEX = frozenset("0123456789abcdef")


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_BLOCK):
            digest.update(chunk)
    return digest.hexdigest()


def _fetch(url: str, dest: Path, sha256: str, timeout: float) -> bool:
    if dest.is_file() and _sha256_of(dest) == sha256:
        return False
    dest.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
    partial = Path(name)
    try:
        digest = hashlib.sha256()
        # The scheme was checked by download(): http, https or file only.
        opened = urllib.request.urlopen(url, timeout=timeout)  # noqa: S310
        with os.fdopen(handle, "wb") as out, opened as response:
            while chunk := response.read(_BLOCK):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != sha256:
            raise ChecksumMismatchError(
                "local", f"{url} has sha256 {digest.hexdigest()}, expected {sha256}"
            )
        partial.chmod(0o644)
        partial.replace(dest)
        return True
    except (urllib.error.URLError, OSError) as error:
        raise RunnerError("local", f"cannot download {url}: {error}") from None
    finally:
        partial.unlink(missing_ok=True)


async def download(url: str, dest: Path, *, sha256: str, timeout: float = 300.0) -> Change:
    """Fetch ``url`` (http, https or file) to ``dest`` on this machine, verified by sha256.

    Nothing is fetched when ``dest`` already has that digest. The file lands by rename only
    after its digest matched, so ``dest`` never holds unverified bytes; a mismatch raises
    ChecksumMismatchError.
    """
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme not in ("http", "https", "file"):
        raise ValueError(f"cannot download {url!r}: only http, https and file URLs are allowed")
    wanted = sha256.lower()
    if len(wanted) != 64 or not set(wanted) <= _HEX:
        raise ValueError(f"{sha256!r} is not a sha256 digest (64 hex digits)")
    fetched = await asyncio.to_thread(_fetch, url, dest, wanted, timeout)
    return Change(fetched, f"download {url} to {dest}", "downloaded" if fetched else "")
