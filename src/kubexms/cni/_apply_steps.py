"""Steps that put objects into the cluster from the first master: a manifest applied
server-side with kubectl, a Helm release, and the files they read on that host.

Each precheck asks the API server what it holds (``_applied``), so a rerun of an unchanged
cluster changes nothing, and an object or release that is missing or differs is applied again.
kubectl and helm run on the host with the admin kubeconfig (a file there, named by path).
"""

from __future__ import annotations

import abc
import asyncio
import hashlib
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from kubexms.artifacts import sha256_of
from kubexms.cni._applied import (
    HELM_DESCRIPTION_PREFIX,
    annotated,
    applied_digests,
    helm_release_current,
    helm_release_note,
    objects_missing,
)
from kubexms.cni._objects import KubeObject, dump_objects
from kubexms.cni._tools import (
    helm_status_argv,
    helm_upgrade_argv,
    kubectl_apply_argv,
    kubectl_get_file_argv,
)
from kubexms.config import Cluster
from kubexms.engine import Step
from kubexms.runner import Change, FileSpec, RunnerError
from kubexms.runtime import Context
from kubexms.steps import RenderContext, RenderedFile
from kubexms.steps._probe import WantedFile, check_absolute, differing

MANIFEST_MODE = 0o600
"""A manifest may hold a Secret: only root reads it on the host."""
_MESSAGE_TAIL = 2000


class ApplyFailedError(RunnerError):
    """kubectl or helm refused what kubexms applied; the message names what (the plugin or
    the add-on) and carries the tool's own message."""

    label = "apply failed"


def tool_message(stderr: str, stdout: str = "") -> str:
    """The end of what a tool said (its error is last), indented under the headline."""
    text = (stderr.strip() or stdout.strip())[-_MESSAGE_TAIL:]
    return "\n    " + "\n    ".join(text.splitlines()) if text else ""


@dataclass(frozen=True)
class ServerSideApply(Step):
    """The objects of a manifest written to ``path`` on the host and applied from there with
    ``kubectl apply --server-side --field-manager=kubexms``, each annotated with the sha256 of
    the manifest (``kubexms.io/applied-sha256``). ``what`` names the objects in messages
    ("calico", "addon metrics"). ``namespace``: where objects that name none go.

    Subclasses say where the objects come from (:meth:`objects`); they are computed when the
    step runs (or renders), not when it is planned, since they may come from the artifact
    store that an earlier phase of the same run fills."""

    path: str
    what: str
    namespace: str | None = None
    name: str = "apply"

    description = "{what}: kubectl apply --server-side -f {path}"
    timeout = 600.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", check_absolute(self.path, "manifest path"))

    @abc.abstractmethod
    def objects(self, cluster: Cluster) -> list[KubeObject]:
        """The objects as kubexms applies them (before the annotation)."""

    def unavailable(self, cluster: Cluster) -> str | None:
        """Why the objects cannot be computed yet (None: they can); a dry run says so."""
        return None

    def manifest(self, cluster: Cluster) -> tuple[str, str, int]:
        """The annotated manifest, its digest and how many objects it has."""
        marked, digest = annotated(self.objects(cluster))
        return dump_objects(marked), digest, len(marked)

    def rendered_files(self, ctx: RenderContext) -> list[RenderedFile]:
        reason = self.unavailable(ctx.cluster)
        if reason is not None:
            text = f"# {self.what}: not rendered: {reason}\n"
        else:
            text = self.manifest(ctx.cluster)[0]
        return [RenderedFile(self.path, text.encode(), MANIFEST_MODE, self.what)]

    async def precheck(self, ctx: Context) -> Change:
        action = f"apply {self.what}"
        reason = self.unavailable(ctx.cluster.config)
        if reason is not None:
            return Change(True, action, f"would apply ({reason})")
        text, digest, count = self.manifest(ctx.cluster.config)
        wanted = WantedFile.of(self.path, text.encode(), MANIFEST_MODE)
        if await differing(ctx.runner, [wanted]):
            return Change(True, action, f"would write {self.path} and apply {count} objects")
        argv = kubectl_get_file_argv(self.path, namespace=self.namespace)
        result = await ctx.runner.script(shlex.join(argv), check=False)
        if not result.ok:
            said = (result.stderr.strip().splitlines() or ["no message"])[-1]
            return Change(True, action, f"would apply {count} objects (kubectl get: {said})")
        try:
            missing = objects_missing(count, digest, applied_digests(result.stdout))
        except ValueError:
            return Change(True, action, f"would apply {count} objects (unreadable kubectl get)")
        if not missing:
            return Change(False, action)
        return Change(True, action, f"would apply: {missing} of {count} objects absent or older")

    async def run(self, ctx: Context) -> Change:
        text, _digest, count = self.manifest(ctx.cluster.config)
        await ctx.runner.files.write(self.path, text, mode=MANIFEST_MODE)
        argv = kubectl_apply_argv(self.path, namespace=self.namespace)
        result = await ctx.runner.script(shlex.join(argv), check=False)
        if not result.ok:
            raise ApplyFailedError(
                ctx.host.name,
                f"{self.what}: `kubectl apply --server-side -f {self.path}` failed (exit "
                f"{result.exit_code}){tool_message(result.stderr, result.stdout)}",
            )
        return Change(True, f"apply {self.what}", f"applied {count} objects")


@dataclass(frozen=True)
class HostFile:
    """A file kubexms writes on the host (a values document): path, text and mode."""

    path: str
    content: str
    mode: int = MANIFEST_MODE


@dataclass(frozen=True)
class HostFiles(Step):
    """Files written on the host atomically, unchanged when they already match (one round
    trip). Plans show their paths and sha256 only: values documents may hold credentials."""

    files: tuple[HostFile, ...]
    what: str
    name: str = "files"

    description = "{what}: files on the host"

    def params(self) -> Mapping[str, object]:
        return {
            "what": self.what,
            "files": [
                {"path": f.path, "sha256": hashlib.sha256(f.content.encode()).hexdigest()}
                for f in self.files
            ],
        }

    def rendered_files(self, ctx: RenderContext) -> list[RenderedFile]:
        return [RenderedFile(f.path, f.content.encode(), f.mode, self.what) for f in self.files]

    def _specs(self) -> list[FileSpec]:
        return [FileSpec(f.path, f.content.encode(), f.mode, None) for f in self.files]

    async def precheck(self, ctx: Context) -> Change:
        wanted = [WantedFile.of(f.path, f.content.encode(), f.mode) for f in self.files]
        missing = await differing(ctx.runner, wanted)
        detail = f"would write {', '.join(w.path for w in missing)}" if missing else ""
        return Change(bool(missing), f"{self.what} files", detail)

    async def run(self, ctx: Context) -> Change:
        changes = await ctx.runner.files.write_many(self._specs())
        written = [c.action for c in changes if c.changed]
        return Change(bool(written), f"{self.what} files", "; ".join(written))


@dataclass(frozen=True)
class UploadFile(Step):
    """A file of the control machine (a chart archive) copied to ``dest`` on the host,
    compared by sha256 first."""

    local: str
    dest: str
    what: str
    mode: int = 0o644
    name: str = "upload"

    description = "{what}: {local} to {dest}"
    uploads = True

    async def _wanted(self) -> WantedFile:
        digest = await asyncio.to_thread(sha256_of, Path(self.local))
        return WantedFile(self.dest, digest, self.mode)

    async def precheck(self, ctx: Context) -> Change:
        missing = await differing(ctx.runner, [await self._wanted()])
        return Change(bool(missing), f"upload {self.dest}", "would copy" if missing else "")

    async def run(self, ctx: Context) -> Change:
        await ctx.runner.files.upload(Path(self.local), self.dest, mode=self.mode)
        if await differing(ctx.runner, [await self._wanted()]):
            raise ApplyFailedError(ctx.host.name, f"{self.what}: {self.dest} differs after copy")
        return Change(True, f"upload {self.dest}")


@dataclass(frozen=True)
class HelmRelease(Step):
    """``helm upgrade --install --wait`` of ``chart`` as ``release``; the release's
    description is the sha256 of its inputs (``fingerprint``), so the precheck (``helm status``)
    finds a release deployed from the same chart and values unchanged. The release's status
    (name, state, revision, chart) is the step's result in the run summary."""

    release: str
    chart: str
    namespace: str
    what: str
    fingerprint: str
    values_files: tuple[str, ...] = ()
    repo: str | None = None
    version: str | None = None
    timeout_seconds: int = 600
    name: str = "helm"

    description = "{what}: helm upgrade --install {release} {chart}"
    reports = True

    @property
    def timeout(self) -> float:  # type: ignore[override]
        return float(self.timeout_seconds + 120)

    def argv(self) -> list[str]:
        return helm_upgrade_argv(
            self.release,
            self.chart,
            namespace=self.namespace,
            values_files=list(self.values_files),
            version=self.version,
            repo=self.repo,
            timeout_seconds=self.timeout_seconds,
            description=HELM_DESCRIPTION_PREFIX + self.fingerprint,
        )

    async def precheck(self, ctx: Context) -> Change:
        action = f"helm release {self.release}"
        result = await ctx.runner.script(shlex.join(self._status_argv()), check=False)
        if not result.ok:
            return Change(True, action, "would install (no release yet)")
        current, why = helm_release_current(result.stdout, self.fingerprint)
        if current:
            return Change(False, action, helm_release_note(result.stdout))
        return Change(True, action, f"would upgrade: {why}")

    async def run(self, ctx: Context) -> Change:
        result = await ctx.runner.script(shlex.join(self.argv()), check=False)
        if not result.ok:
            raise ApplyFailedError(
                ctx.host.name,
                f"{self.what}: `helm upgrade --install {self.release}` failed (exit "
                f"{result.exit_code}){tool_message(result.stderr, result.stdout)}",
            )
        status = await ctx.runner.script(shlex.join(self._status_argv()), check=False)
        if status.ok:
            note = helm_release_note(status.stdout)
        else:  # installed all the same; say why there is no more to tell
            said = (status.stderr.strip().splitlines() or ["no message"])[-1]
            note = f"{self.release} deployed (helm status: {said})"
        return Change(True, f"helm release {self.release}", note)

    def _status_argv(self) -> list[str]:
        return helm_status_argv(self.release, namespace=self.namespace)
