"""Copying images with skopeo on the control machine: registry -> store, store -> registry.

``pull_images`` copies each image into an OCI archive of the store (several at once; an image
already there with its recorded digest is skipped, so an interrupted pull resumes), checking
the manifest digest against a pinned one. ``push_images`` copies the store's archives into the
private registry under the same repository path and checks that the registry holds the digest
recorded at pull. Logins go to skopeo in a 0600 auth file, never on its command line.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from kubexms.artifacts._errors import ArtifactError
from kubexms.artifacts._image_store import ImageStore, StoredImage, archive_name
from kubexms.artifacts._images import ImageRef, registry_host


class ImageCopyError(ArtifactError):
    """skopeo could not copy an image, or the copy is not the image expected."""


@dataclass(frozen=True)
class WantedImage:
    """An image to pull: its reference and the roles of the hosts that run it."""

    ref: ImageRef
    roles: tuple[str, ...]


@dataclass(frozen=True)
class CopyResult:
    ref: str
    digest: str
    copied: bool  # False: already there


def _skopeo() -> str:
    found = shutil.which("skopeo")
    if found is None:
        raise ImageCopyError(
            "skopeo is not installed on this machine; install it (apt-get install skopeo, "
            "dnf install skopeo) to copy images"
        )
    return found


def _auth_file(directory: Path, auths: Mapping[str, tuple[str, str]]) -> Path | None:
    if not auths:
        return None
    document = {
        "auths": {
            host: {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}
            for host, (user, password) in auths.items()
        }
    }
    path = directory / "auth.json"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as out:
        json.dump(document, out)
    return path


async def _run(argv: Sequence[str], what: str) -> bytes:
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await process.communicate()
    if process.returncode != 0:
        lines = stderr.decode(errors="replace").strip().splitlines()
        raise ImageCopyError(f"{what}: skopeo failed: {' '.join(lines[-3:])}")
    return stdout


def _tls(prefix: str, registry: str, cert_dir: Path | None, insecure: Iterable[str]) -> list[str]:
    if registry in set(insecure):
        return [f"--{prefix}-tls-verify=false"]
    return [f"--{prefix}-cert-dir", str(cert_dir)] if cert_dir is not None else []


async def pull_images(
    store: ImageStore,
    images: Sequence[WantedImage],
    *,
    auths: Mapping[str, tuple[str, str]] | None = None,
    insecure: Iterable[str] = (),
    concurrency: int = 4,
) -> list[CopyResult]:
    """Copy ``images`` into ``store`` (skipping those already there and valid)."""
    skopeo = _skopeo()
    insecure = tuple(insecure)
    limit = asyncio.Semaphore(concurrency)
    store.root.mkdir(parents=True, exist_ok=True)
    lock = asyncio.Lock()

    async def one(wanted: WantedImage, work: Path, auth: Path | None) -> CopyResult:
        ref = wanted.ref
        present = store.entry(ref)
        if (
            present is not None
            and ref.digest in (None, present.digest)
            and set(wanted.roles) <= set(present.roles)
            and await asyncio.to_thread(store.is_valid, present)
        ):
            return CopyResult(ref.name, present.digest, False)
        async with limit:
            partial = store.root / f".{archive_name(ref)}.part"
            partial.unlink(missing_ok=True)
            digest_file = work / f"{archive_name(ref)}.digest"
            argv = [skopeo, "copy", "--retry-times", "3", "--digestfile", str(digest_file)]
            argv += _tls("src", ref.registry, None, insecure)
            if auth is not None:
                argv += ["--src-authfile", str(auth)]
            argv += [f"docker://{ref}", f"oci-archive:{partial}:{ref.name}"]
            try:
                # The registry's own manifest, byte for byte, where an OCI archive can hold it.
                await _run([*argv[:2], "--preserve-digests", *argv[2:]], f"pull {ref}")
            except ImageCopyError:
                if ref.digest is not None:
                    raise
                # A Docker v2 manifest must be converted to OCI: its digest then changes, and
                # the digest recorded (and checked at import and push) is the converted one.
                await _run(argv, f"pull {ref}")
            seen = digest_file.read_text().strip()
            if ref.digest is not None and seen != ref.digest:
                partial.unlink(missing_ok=True)
                raise ImageCopyError(f"pull {ref}: the registry served {seen}")
            async with lock:  # one writer of images.json at a time
                entry = await asyncio.to_thread(
                    store.add,
                    ref,
                    partial,
                    sorted({*wanted.roles, *(present.roles if present else ())}),
                    digest=seen,
                )
            partial.unlink(missing_ok=True)
            return CopyResult(ref.name, entry.digest, True)

    with tempfile.TemporaryDirectory(prefix="kubexms-images-") as directory:
        work = Path(directory)
        auth = _auth_file(work, auths or {})
        return list(await asyncio.gather(*(one(image, work, auth) for image in images)))


async def missing_in_registry(
    store: ImageStore,
    private_registry: str,
    *,
    auths: Mapping[str, tuple[str, str]] | None = None,
    ca_file: Path | None = None,
    insecure: Iterable[str] = (),
) -> list[StoredImage]:
    """The store's images that ``private_registry`` does not hold with their digest."""
    skopeo = _skopeo()
    host = registry_host(private_registry)
    insecure = tuple(insecure)

    async def holds(entry: StoredImage, auth: Path | None, certs: Path | None) -> bool:
        target = entry.image.under(private_registry)
        argv = [skopeo, "inspect", "--raw", "--retry-times", "1"]
        argv += [a.replace("--dest-", "--") for a in _tls("dest", host, certs, insecure)]
        if auth is not None:
            argv += ["--authfile", str(auth)]
        try:
            raw = await _run([*argv, f"docker://{target.name}"], f"inspect {target}")
        except ImageCopyError:
            return False
        return "sha256:" + hashlib.sha256(raw).hexdigest() == entry.digest

    with tempfile.TemporaryDirectory(prefix="kubexms-images-") as directory:
        work = Path(directory)
        auth = _auth_file(work, auths or {})
        certs = _cert_dir(work, ca_file)
        entries = store.entries()
        found = await asyncio.gather(*(holds(e, auth, certs) for e in entries))
    return [entry for entry, held in zip(entries, found, strict=True) if not held]


def _cert_dir(work: Path, ca_file: Path | None) -> Path | None:
    if ca_file is None:
        return None
    certs = work / "certs"
    certs.mkdir(exist_ok=True)
    shutil.copyfile(ca_file, certs / "ca.crt")
    return certs


async def push_images(
    store: ImageStore,
    private_registry: str,
    *,
    entries: Sequence[StoredImage] | None = None,
    auths: Mapping[str, tuple[str, str]] | None = None,
    ca_file: Path | None = None,
    insecure: Iterable[str] = (),
    concurrency: int = 4,
) -> list[CopyResult]:
    """Copy the store's images (``entries``, None: all) into ``private_registry``
    (``host[:port][/path]``), trusting ``ca_file``; each must keep the digest of its pull."""
    skopeo = _skopeo()
    insecure = tuple(insecure)
    host = registry_host(private_registry)
    limit = asyncio.Semaphore(concurrency)
    chosen = list(entries) if entries is not None else store.entries()

    async def one(entry: StoredImage, work: Path, auth: Path | None, certs: Path | None) -> str:
        if not await asyncio.to_thread(store.is_valid, entry):
            raise ImageCopyError(
                f"push {entry.ref}: {store.path_of(entry)} is missing or differs from what was "
                "pulled; run `kubexms artifact images pull` again"
            )
        target = entry.image.under(private_registry)
        async with limit:
            digest_file = work / f"{entry.file}.digest"
            argv = [skopeo, "copy", "--retry-times", "3", "--preserve-digests"]
            argv += ["--digestfile", str(digest_file)]
            argv += _tls("dest", host, certs, insecure)
            if auth is not None:
                argv += ["--dest-authfile", str(auth)]
            argv += [f"oci-archive:{store.path_of(entry)}", f"docker://{target.name}"]
            await _run(argv, f"push {entry.ref} to {private_registry}")
            seen = digest_file.read_text().strip()
        if seen != entry.digest:
            raise ImageCopyError(
                f"push {entry.ref}: {private_registry} holds {seen}, but {entry.digest} was pulled"
            )
        return seen

    with tempfile.TemporaryDirectory(prefix="kubexms-images-") as directory:
        work = Path(directory)
        auth = _auth_file(work, auths or {})
        certs = _cert_dir(work, ca_file)
        digests = await asyncio.gather(*(one(e, work, auth, certs) for e in chosen))
    return [CopyResult(e.ref, d, True) for e, d in zip(chosen, digests, strict=True)]
