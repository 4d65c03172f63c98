"""OS packages: downloaded on the control machine when asked, installed on every host."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from shlex import quote

from kubexms.engine import Step
from kubexms.hostprep._package_source import (
    PLATFORM_FILE,
    PackageDirectoryError,
    PackageSource,
    Platform,
    closure_names,
    debs_for,
    missing_from,
    rpms_in,
)
from kubexms.runner import Change, FileSpec
from kubexms.runtime import Context

APT_DEPENDS = (
    "apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks "
    "--no-replaces --no-enhances"
)
INSTALL_TIMEOUT = 1800.0
CLOSURE_FILE = "CLOSURE.json"


async def installed_packages(ctx: Context, manager: str, names: Sequence[str]) -> dict[str, bool]:
    """Which of ``names`` the host has installed. For apt one dpkg-query answers for all of
    them (one process instead of one per package: seconds on a busy host with 30 packages)."""
    if manager != "apt" or not names:
        return await ctx.runner.packages.installed(names)
    query = "dpkg-query -W -f='${Package}\\t${db:Status-Abbrev}\\n' -- " + " ".join(
        map(quote, names)
    )
    result = await ctx.runner.run(f"{query} 2>/dev/null; true")
    present = {
        line.split("\t")[0]
        for line in result.stdout.splitlines()
        if "\t" in line and line.split("\t")[1].startswith("ii")
    }
    return {name: name in present for name in names}


async def _platform(ctx: Context) -> Platform:
    facts = await ctx.runner.facts()
    return Platform(facts.os_id, facts.os_version, facts.arch)


class DownloadPackages(Step):
    """On the control machine: ``apt-get download`` the packages and every dependency into
    the directory, unless it already holds them; records the platform they are for."""

    name = "download-packages"
    timeout = INSTALL_TIMEOUT

    def __init__(self, names: Sequence[str], directory: Path) -> None:
        self.names = list(names)
        self.directory = directory
        self.description = f"apt-get download {' '.join(self.names)} (+ dependencies)"

    def params(self) -> Mapping[str, object]:
        return {"packages": self.names, "directory": str(self.directory)}

    async def _closure(self, ctx: Context) -> list[str]:
        if not await ctx.runner.check("command -v apt-get && command -v apt-cache"):
            raise PackageDirectoryError(
                "--download-packages needs apt-get on this machine; put the .deb files in a "
                "directory yourself and pass it with --packages-dir"
            )
        result = await ctx.runner.must_run(f"{APT_DEPENDS} {' '.join(map(quote, self.names))}")
        return closure_names(result.stdout)

    def _recorded_closure(self) -> list[str] | None:
        """The dependency closure the last download resolved for these same packages."""
        try:
            data = json.loads((self.directory / CLOSURE_FILE).read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or data.get("packages") != sorted(self.names):
            return None
        closure = data.get("closure")
        return [str(name) for name in closure] if isinstance(closure, list) else None

    async def precheck(self, ctx: Context) -> bool:
        # Resolving dependencies costs seconds: a finished download recorded its closure.
        platform = await _platform(ctx)
        closure = self._recorded_closure()
        if Platform.read(self.directory) != platform or closure is None:
            return False
        return not missing_from(closure, debs_for(self.directory, platform.arch))

    async def run(self, ctx: Context) -> Change | None:
        platform = await _platform(ctx)
        recorded = Platform.read(self.directory)
        if recorded is not None and recorded != platform:
            raise PackageDirectoryError(
                f"{self.directory} holds packages for {recorded}, but this machine is "
                f"{platform}; download into another directory"
            )
        closure = await self._closure(ctx)
        await ctx.runner.files.mkdir(str(self.directory))
        missing = missing_from(closure, debs_for(self.directory, platform.arch))
        if missing:
            result = await ctx.runner.run(
                f"apt-get download {' '.join(map(quote, missing))}",
                cwd=str(self.directory),
                timeout=INSTALL_TIMEOUT,
            )
            if not result.ok:
                raise PackageDirectoryError(
                    f"apt-get download failed on this machine (exit {result.exit_code}): "
                    f"{result.stderr.strip()[-500:]}\n(are the package lists current? "
                    "'apt-get update' refreshes them)"
                )
        data = {"os_id": platform.os_id, "os_version": platform.os_version, "arch": platform.arch}
        record = {"packages": sorted(self.names), "closure": closure}
        wrote = await ctx.runner.files.write_many(
            [
                FileSpec(str(self.directory / PLATFORM_FILE), (json.dumps(data) + "\n").encode()),
                FileSpec(str(self.directory / CLOSURE_FILE), (json.dumps(record) + "\n").encode()),
            ]
        )
        changed = bool(missing) or any(change.changed for change in wrote)
        return Change(changed, f"download packages into {self.directory}", " ".join(missing))


class InstallPackages(Step):
    """The node's OS packages are installed: from its repositories, or offline from the
    package directory (every package there not yet installed on the host, in one go)."""

    name = "packages"
    uploads = True
    timeout = INSTALL_TIMEOUT

    def __init__(self, names: Mapping[str, Sequence[str]], source: PackageSource) -> None:
        self.names = {manager: list(found) for manager, found in names.items()}
        self.source = source
        self.description = f"OS packages from {source.describe()}"

    def params(self) -> Mapping[str, object]:
        return {
            "packages": self.names,
            "source": self.source.kind,
            "directory": str(self.source.directory) if self.source.directory else None,
            "download": self.source.download,
        }

    async def _wanted(self, ctx: Context) -> tuple[str, list[str]]:
        manager = await ctx.runner.packages.manager()
        if manager not in self.names:
            raise PackageDirectoryError(f"{ctx.host.name}: no package list for {manager}")
        return manager, self.names[manager]

    def _debs(self, arch: str) -> dict[str, Path]:
        assert self.source.directory is not None
        return {name: deb.path for name, deb in debs_for(self.source.directory, arch).items()}

    async def precheck(self, ctx: Context) -> bool:
        manager, names = await self._wanted(ctx)
        directory = self.source.directory
        if manager == "apt" and directory is not None and directory.is_dir():
            names = sorted({*names, *self._debs((await ctx.runner.facts()).arch)})
        installed = await installed_packages(ctx, manager, names)
        return all(installed.values())

    async def run(self, ctx: Context) -> Change | None:
        manager, names = await self._wanted(ctx)
        if self.source.kind == "repository":
            return await ctx.runner.packages.install(names, update=True, timeout=INSTALL_TIMEOUT)
        directory = self.source.directory
        assert directory is not None
        if manager != "apt":
            files = rpms_in(directory)
            if not files:
                raise PackageDirectoryError(f"{directory} holds no .rpm files for {manager}")
            return await ctx.runner.packages.install_files(files, timeout=INSTALL_TIMEOUT)
        host = await _platform(ctx)
        if self.source.download:
            made_for = Platform.read(directory)
            if made_for != host:
                raise PackageDirectoryError(
                    f"{ctx.host.name} runs {host}, but the packages in {directory} were "
                    f"downloaded for {made_for or 'an unknown platform'}; pass --packages-dir "
                    "with packages for this host"
                )
        debs = self._debs(host.arch)
        installed = await installed_packages(ctx, manager, sorted({*names, *debs}))
        absent = [name for name in names if not installed[name] and name not in debs]
        if absent:
            raise PackageDirectoryError(
                f"{ctx.host.name} lacks {', '.join(absent)} and {directory} has no "
                f"{host.arch} .deb file for it"
            )
        files = [path for name, path in sorted(debs.items()) if not installed[name]]
        # An install cut off earlier (a dropped connection) leaves dpkg needing this first.
        await ctx.runner.script("dpkg --configure -a", timeout=INSTALL_TIMEOUT)
        return await ctx.runner.packages.install_files(files, timeout=INSTALL_TIMEOUT)
