"""Downloading a plan into the store: checksums resolved, fetched in parallel, recorded."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from kubexms._log import get_logger
from kubexms.artifacts._checksums import parse_checksum_file
from kubexms.artifacts._errors import ArtifactError, ChecksumUnavailableError, DownloadError
from kubexms.artifacts._fetch import fetch_text, fetch_to
from kubexms.artifacts._manifest import ManifestEntry
from kubexms.artifacts._mirror import artifact_url, checksum_file_url
from kubexms.artifacts._plan import Artifact, ArtifactPlan
from kubexms.artifacts._settings import ArtifactSettings
from kubexms.artifacts._store import ArtifactStore, sha256_of
from kubexms.engine import RetryPolicy, is_retryable

if TYPE_CHECKING:
    from rich.progress import Progress

log = get_logger("kubexms.artifacts")

DOWNLOAD_RETRY = RetryPolicy(retries=3)
"""Downloads are retried with the Engine's policy: 3 retries, backoff from 1 s, jittered."""

ProgressFactory = Callable[[], "Progress"]


@dataclass(frozen=True, slots=True)
class DownloadResult:
    """One artifact in the store: where, its sha256, and whether it was fetched just now."""

    artifact: Artifact
    path: Path
    sha256: str
    checksum_source: str
    fetched: bool


class DownloadFailedError(ArtifactError):
    """Several artifacts failed; ``errors`` holds one error per artifact."""

    def __init__(self, errors: Sequence[ArtifactError]) -> None:
        lines = "\n".join(f"  - {error}" for error in errors)
        super().__init__(f"{len(errors)} artifacts could not be downloaded:\n{lines}")
        self.errors = list(errors)


def refuse_unverifiable(plan: ArtifactPlan) -> None:
    """Raise ChecksumUnavailableError for artifacts no sha256 can be found for."""
    missing = plan.unverifiable()
    if missing:
        names = ", ".join(artifact.describe() for artifact in missing)
        overrides = ", ".join(sorted({a.component for a in missing}))
        raise ChecksumUnavailableError(
            f"refusing to download {names}: no sha256 is pinned in the bill of materials and "
            f"the project publishes no checksum file for it. Pin one you trust in cluster.yaml "
            f"under spec.artifacts.overrides.<component>.sha256.<arch> (component: {overrides})"
        )


async def _expected(
    artifact: Artifact,
    store: ArtifactStore,
    settings: ArtifactSettings,
    timeout: float,
) -> tuple[str, str]:
    """(sha256, where it came from) for one artifact."""
    if artifact.sha256 is not None and artifact.checksum_source is not None:
        return artifact.sha256, artifact.checksum_source
    # Resolved by an earlier download and pinned in the store's manifest: no network needed.
    known = store.manifest().entry(artifact.key)
    if known is not None and known.file == artifact.file:
        return known.sha256, known.checksum_source
    url = checksum_file_url(artifact, settings)
    if url is None:
        raise ChecksumUnavailableError(f"{artifact.describe()}: no checksum is known")
    text = await asyncio.to_thread(fetch_text, url, timeout)
    return parse_checksum_file(text, artifact.file, url), f"published: {url}"


async def download_artifacts(
    plan: ArtifactPlan,
    store: ArtifactStore,
    settings: ArtifactSettings,
    *,
    retry: RetryPolicy = DOWNLOAD_RETRY,
    timeout: float = 60.0,
    progress: ProgressFactory | None = None,
) -> list[DownloadResult]:
    """Bring every artifact of ``plan`` into ``store``, verified.

    Artifacts already present with the expected sha256 are not fetched again. Up to
    ``settings.download_concurrency`` downloads run at once; a retryable failure (a network
    error, not a checksum mismatch) is retried as the Engine retries pairs: ``retry.retries``
    times, with its backoff, resuming the partial file. Successful downloads are recorded in
    the store's manifest even when others fail; failures are raised afterwards (one error as itself,
    several as DownloadFailedError).
    """
    refuse_unverifiable(plan)
    limit = asyncio.Semaphore(settings.download_concurrency)
    bar = progress() if progress is not None else None

    async def one(artifact: Artifact) -> DownloadResult:
        async with limit:
            sha256, source = await _expected(artifact, store, settings, timeout)
            dest = store.path_of(artifact)
            present = await asyncio.to_thread(dest.is_file)
            if present and await asyncio.to_thread(sha256_of, dest) == sha256:
                log.debug("artifacts.present", artifact=artifact.relpath)
                return DownloadResult(artifact, dest, sha256, source, fetched=False)
            url = artifact_url(artifact, settings)
            task = bar.add_task(artifact.describe(), total=None) if bar is not None else None

            def report(done: int, total: int | None) -> None:
                if bar is not None and task is not None:
                    if total is not None:
                        bar.update(task, total=total)
                    bar.advance(task, done)

            attempt = 0
            while True:
                try:
                    if bar is not None and task is not None:
                        bar.reset(task, total=None)
                    await asyncio.to_thread(
                        fetch_to,
                        url,
                        dest,
                        sha256,
                        mode=artifact.mode,
                        timeout=timeout,
                        progress=report,
                    )
                    break
                except DownloadError as error:
                    attempt += 1
                    if not is_retryable(error) or attempt > retry.retries:
                        raise
                    delay = retry.delay(attempt)
                    log.warning(
                        "artifacts.retry", url=url, attempt=attempt, delay=delay, error=str(error)
                    )
                    await asyncio.sleep(delay)
            log.info("artifacts.downloaded", artifact=artifact.relpath, url=url)
            return DownloadResult(artifact, dest, sha256, source, fetched=True)

    try:
        if bar is not None:
            bar.start()
        outcomes = await asyncio.gather(
            *(one(artifact) for artifact in plan.artifacts), return_exceptions=True
        )
    finally:
        if bar is not None:
            bar.stop()

    results = [outcome for outcome in outcomes if isinstance(outcome, DownloadResult)]
    if results:
        entries = [
            ManifestEntry(
                component=result.artifact.component,
                version=result.artifact.version,
                arch=result.artifact.arch,
                file=result.artifact.file,
                sha256=result.sha256,
                size=result.path.stat().st_size,
                url=result.artifact.url,
                checksum_source=result.checksum_source,
                executable=result.artifact.executable,
            )
            for result in results
        ]
        await asyncio.to_thread(
            store.record,
            entries,
            cluster=plan.cluster,
            kubernetes_version=plan.kubernetes_version,
        )
    errors = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
    unexpected = [error for error in errors if not isinstance(error, ArtifactError)]
    if unexpected:
        raise unexpected[0]
    failures = [error for error in errors if isinstance(error, ArtifactError)]
    if len(failures) == 1:
        raise failures[0]
    if failures:
        raise DownloadFailedError(failures)
    return results


async def prepare_artifacts(
    plan: ArtifactPlan,
    store: ArtifactStore,
    settings: ArtifactSettings,
    *,
    retry: RetryPolicy = DOWNLOAD_RETRY,
    timeout: float = 60.0,
    progress: ProgressFactory | None = None,
) -> list[DownloadResult]:
    """What a pipeline calls: the plan's artifacts in ``store``, verified, online or offline.

    With ``settings.offline_bundle`` the bundle is imported (verified whole) and nothing is
    downloaded; an artifact the plan needs that the bundle and store lack is then an error
    naming it. Without it this is `download_artifacts`.
    """
    if settings.offline_bundle is None:
        return await download_artifacts(
            plan, store, settings, retry=retry, timeout=timeout, progress=progress
        )
    from kubexms.artifacts._bundle import import_bundle

    await asyncio.to_thread(import_bundle, settings.offline_bundle, store)
    manifest = store.manifest()
    results: list[DownloadResult] = []
    missing: list[str] = []
    for artifact in plan.artifacts:
        entry = manifest.entry(artifact.key)
        valid = entry is not None and entry.file == artifact.file
        if valid and entry is not None and artifact.sha256 not in (None, entry.sha256):
            valid = False
        if not valid or entry is None or not await asyncio.to_thread(store.is_valid, entry):
            missing.append(artifact.describe())
            continue
        results.append(
            DownloadResult(
                artifact, store.path_of(entry), entry.sha256, entry.checksum_source, False
            )
        )
    if missing:
        raise ArtifactError(
            f"the offline bundle {settings.offline_bundle} lacks {', '.join(missing)}; build it "
            f"with `kubexms artifact bundle -f <this cluster.yaml>` on a connected machine"
        )
    return results
