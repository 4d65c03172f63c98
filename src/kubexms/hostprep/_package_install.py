"""OS packages: downloaded on the control machine when needed, installed on every host.

Both steps are OperationSteps: their precheck is their own ``apply`` in check mode, over the
Runner's package operations (``packages.installed`` answers for all names in one call).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from shlex import quote

from kubexms.engine import DataKey, OperationStep, control_host
from kubexms.hostprep._package_source import (
    PLATFORM_FILE,
    PackageDirectoryError,
    PackageSource,
    Platform,
    debs_for,
    dependency_groups,
    first_choice_dependencies,
    missing_from,
    needed_packages,
    rpms_in,
)
from kubexms.runner import Change, FileSpec, Runner, RunnerError
from kubexms.runtime import Context

APT_DEPENDS = (
    "apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks "
    "--no-replaces --no-enhances"
)
INSTALL_TIMEOUT = 1800.0
CLOSURE_FILE = "CLOSURE.json"


async def platform_of(runner: Runner) -> Platform:
    facts = await runner.facts()
    return Platform(facts.os_id, facts.os_version, facts.arch)


def recorded_closure(directory: Path, names: Sequence[str]) -> list[str] | None:
    """The dependency closure the last download into ``directory`` resolved for ``names``."""
    try:
        data = json.loads((directory / CLOSURE_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("packages") != sorted(names):
        return None
    closure = data.get("closure")
    return [str(name) for name in closure] if isinstance(closure, list) else None


def recorded_dependencies(directory: Path) -> dict[str, list[list[str]]] | None:
    """Each downloaded package's dependency groups, as the last download into ``directory``
    recorded them (None: a directory filled by hand, or by an older download)."""
    try:
        data = json.loads((directory / CLOSURE_FILE).read_text())
        groups = data["depends"]
        return {
            str(name): [[str(option) for option in group] for group in found]
            for name, found in groups.items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


async def dependency_closure(
    runner: Runner, names: Sequence[str]
) -> tuple[list[str], dict[str, list[list[str]]]]:
    """``names`` and everything they need, level by level, as apt would choose on a host that
    has none of it (see :func:`first_choice_dependencies`; ``apt-cache depends --recurse``
    follows every provider of every alternative instead, pulling in packages that conflict
    with the host's); and each one's dependency groups, so that a host is given only what it
    lacks (:func:`needed_packages`)."""
    closure: dict[str, None] = {}
    groups: dict[str, list[list[str]]] = {}
    pending = list(dict.fromkeys(names))
    while pending:
        closure.update(dict.fromkeys(pending))
        result = await runner.must_run(f"{APT_DEPENDS} {' '.join(map(quote, pending))}")
        needed = first_choice_dependencies(result.stdout)
        groups.update(dependency_groups(result.stdout))
        pending = list(
            dict.fromkeys(
                name for found in needed.values() for name in found if name not in closure
            )
        )
    return list(closure), groups


async def download_packages(
    runner: Runner, names: Sequence[str], directory: Path, *, check: bool = False
) -> Change:
    """``apt-get download`` ``names`` and every dependency into ``directory`` with the
    control machine's ``runner``, unless it holds them already (a finished download records
    its closure, since resolving dependencies costs seconds); records the platform."""
    action = f"download packages into {directory}"
    platform = await platform_of(runner)
    recorded = Platform.read(directory)
    if recorded is not None and recorded != platform:
        raise PackageDirectoryError(
            f"{directory} holds packages for {recorded}, but this machine is "
            f"{platform}; download into another directory"
        )
    closure = recorded_closure(directory, names)
    done = recorded is not None and closure is not None
    if done and not missing_from(closure or [], debs_for(directory, platform.arch)):
        return Change(False, action)
    if check:
        return Change(True, action, f"{' '.join(names)} and their dependencies")
    if not await runner.check("command -v apt-get && command -v apt-cache"):
        raise PackageDirectoryError(
            "downloading packages needs apt-get on this machine; put the .deb files in a "
            "directory yourself and pass it with --packages-dir"
        )
    closure, groups = await dependency_closure(runner, names)
    await runner.files.mkdir(str(directory))
    missing = missing_from(closure, debs_for(directory, platform.arch))
    if missing:
        result = await runner.run(
            f"apt-get download {' '.join(map(quote, missing))}",
            cwd=str(directory),
            timeout=INSTALL_TIMEOUT,
        )
        if not result.ok:
            raise PackageDirectoryError(
                f"apt-get download failed on this machine (exit {result.exit_code}): "
                f"{result.stderr.strip()[-500:]}\n(are the package lists current? "
                "'apt-get update' refreshes them)"
            )
    data = {"os_id": platform.os_id, "os_version": platform.os_version, "arch": platform.arch}
    # Another package list downloaded into the same directory keeps its groups too.
    depends = (recorded_dependencies(directory) or {}) | groups
    record = {"packages": sorted(names), "closure": closure, "depends": depends}
    wrote = await runner.files.write_many(
        [
            FileSpec(str(directory / PLATFORM_FILE), (json.dumps(data) + "\n").encode()),
            FileSpec(str(directory / CLOSURE_FILE), (json.dumps(record) + "\n").encode()),
        ]
    )
    changed = bool(missing) or any(change.changed for change in wrote)
    return Change(changed, action, " ".join(missing))


@dataclass(frozen=True)
class DownloadPackages(OperationStep):
    """On the control machine: ``apt-get download`` the packages and every dependency into
    the directory, unless it already holds them; records the platform they are for."""

    name = "download-packages"
    description = "apt-get download {packages} (+ dependencies) into {directory}"
    timeout = INSTALL_TIMEOUT

    packages: Sequence[str]
    directory: Path

    async def apply(self, ctx: Context, *, check: bool) -> Change:
        return await download_packages(ctx.runner, self.packages, self.directory, check=check)


_CARRY_LOCK = "hostprep.carry-lock"
_CARRY_FAILED = "hostprep.carry-failed"


@dataclass(frozen=True)
class InstallPackages(OperationStep):
    """The node's OS packages are installed: from its repositories, offline from the package
    directory (every package there not yet installed on the host, in one go), or, with the
    ``auto`` source, from its repositories when it reaches them and else offline from
    packages this machine downloads for it (once per run, whatever the number of hosts)."""

    name = "packages"
    uploads = True
    timeout = INSTALL_TIMEOUT

    packages: Mapping[str, Sequence[str]]
    source: PackageSource

    def describe(self) -> str:
        return f"OS packages from {self.source.describe()}"

    async def _wanted(self, ctx: Context) -> tuple[str, list[str]]:
        manager = await ctx.runner.packages.manager()
        if manager not in self.packages:
            raise PackageDirectoryError(f"{ctx.host.name}: no package list for {manager}")
        return manager, list(self.packages[manager])

    async def apply(self, ctx: Context, *, check: bool) -> Change:
        manager, names = await self._wanted(ctx)
        packages = ctx.runner.packages
        if self.source.kind == "repositories":
            return await packages.install(names, update=True, timeout=INSTALL_TIMEOUT, check=check)
        if self.source.kind == "offline":
            return await self._offline(ctx, manager, names, check=check)
        installed = await packages.installed(names)
        missing = [name for name in names if not installed[name]]
        action = f"install {' '.join(names)}"
        if not missing:
            return Change(False, action)
        if check:
            how = "from the host's repositories, or carried from this machine"
            return Change(True, action, f"{' '.join(missing)} ({how})")
        reach = await packages.refresh()
        if reach.reached:
            return await packages.install(names, timeout=INSTALL_TIMEOUT)
        await self._carry(ctx, manager, reach.problem)
        change = await self._offline(ctx, manager, names, check=False)
        return Change(change.changed, action, f"{change.detail} (carried from this machine)")

    async def _carry(self, ctx: Context, manager: str, problem: str) -> None:
        """Download the packages on this machine for a host that reaches no repository; one
        clear error when this machine cannot serve it."""
        directory = self.source.directory
        assert directory is not None
        host = ctx.host.name
        cannot = f"{host} reaches no package repository ({problem}), and this machine cannot "
        cannot += "serve it: "
        if manager != "apt" or "apt" not in self.packages:
            raise PackageDirectoryError(
                f"{cannot}packages are carried to apt hosts only ({manager} here); give the "
                "host a mirror, or set spec.osPackages {source: offline, dir: ...} to a "
                "directory of its package files"
            )
        local = control_host(ctx.cluster).runner
        lock_key = DataKey(f"{_CARRY_LOCK}:{directory}", asyncio.Lock)
        if lock_key not in ctx.cluster_data:
            ctx.cluster_data.set(lock_key, asyncio.Lock())
        failed_key = DataKey(f"{_CARRY_FAILED}:{directory}", str)
        async with ctx.cluster_data.get(lock_key):
            if failed_key in ctx.cluster_data:
                raise PackageDirectoryError(cannot + ctx.cluster_data.get(failed_key))
            try:
                mine, theirs = await platform_of(local), await platform_of(ctx.runner)
                if mine != theirs:
                    raise PackageDirectoryError(
                        f"it runs {theirs}, this machine {mine}: its packages would not fit; "
                        f"give the host a mirror, or put packages for {theirs} in a directory "
                        "and pass it with --packages-dir"
                    )
                await download_packages(local, self.packages["apt"], directory)
            except (PackageDirectoryError, RunnerError) as error:
                reason = str(error)
                ctx.cluster_data.set(failed_key, reason)
                raise PackageDirectoryError(cannot + reason) from None

    def _debs(self, directory: Path, arch: str) -> dict[str, Path]:
        return {name: deb.path for name, deb in debs_for(directory, arch).items()}

    async def _offline(
        self, ctx: Context, manager: str, names: list[str], *, check: bool
    ) -> Change:
        directory = self.source.directory
        assert directory is not None
        action = f"install {' '.join(names)}"
        packages = ctx.runner.packages
        if check and self.source.carries and Platform.read(directory) is None:
            # Not downloaded yet (a dry run plans the download): only the names can be told.
            installed = await packages.installed(names)
            missing = [name for name in names if not installed[name]]
            return Change(bool(missing), action, " ".join(missing))
        if manager != "apt":
            files = rpms_in(directory)
            if not files:
                raise PackageDirectoryError(f"{directory} holds no .rpm files for {manager}")
            return await packages.install_files(files, timeout=INSTALL_TIMEOUT, check=check)
        host = await platform_of(ctx.runner)
        if self.source.carries:
            made_for = Platform.read(directory)
            if made_for != host:
                raise PackageDirectoryError(
                    f"{ctx.host.name} runs {host}, but the packages in {directory} were "
                    f"downloaded for {made_for or 'an unknown platform'}; pass --packages-dir "
                    "with packages for this host"
                )
        debs = self._debs(directory, host.arch)
        groups = recorded_dependencies(directory)
        options = {o for found in (groups or {}).values() for group in found for o in group}
        installed = await packages.installed(sorted({*names, *debs, *options}))
        absent = [name for name in names if not installed[name] and name not in debs]
        if absent:
            raise PackageDirectoryError(
                f"{ctx.host.name} lacks {', '.join(absent)} and {directory} has no "
                f"{host.arch} .deb file for it"
            )
        if groups is None:  # filled by hand: every package there that the host lacks
            wanted = sorted(name for name in debs if not installed[name])
        else:  # downloaded here: only what this host lacks for the names
            wanted = needed_packages(names, groups, installed, debs)
        if check or not wanted:
            return Change(bool(wanted), action, " ".join(wanted))
        # An install cut off earlier (a dropped connection, a kill) leaves dpkg needing this
        # first; it waits for the lock a previous attempt's dpkg may still hold.
        repaired = await packages.repair(timeout=INSTALL_TIMEOUT)
        files = [debs[name] for name in wanted]
        installed_now = await packages.install_files(files, timeout=INSTALL_TIMEOUT)
        if not repaired.changed:
            return installed_now
        detail = f"repaired: {repaired.detail}"
        if installed_now.changed:
            detail += f"; installed: {installed_now.detail}"
        return Change(True, action, detail)
