"""Where OS packages come from: the hosts' own repositories, or package files on this machine.

Air-gapped hosts cannot reach a mirror, so the files come from a directory on the control
machine (``--packages-dir``), filled by hand (an offline bundle) or by ``apt-get download``
on this machine (``--download-packages``, which then also records the platform it
downloaded for, so a host of another release is refused rather than given wrong files).
The default, ``auto``, decides per host: its repositories when it reaches them, else files
downloaded on this machine (the cluster file's ``spec.osPackages``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from kubexms._errors import KubexmsError

PLATFORM_FILE = "PLATFORM.json"


@dataclass(frozen=True, slots=True)
class Platform:
    """An OS release and architecture, as host facts name them."""

    os_id: str
    os_version: str
    arch: str

    def __str__(self) -> str:
        return f"{self.os_id} {self.os_version} {self.arch}"

    @classmethod
    def read(cls, directory: Path) -> Platform | None:
        try:
            data = json.loads((directory / PLATFORM_FILE).read_text())
            return cls(str(data["os_id"]), str(data["os_version"]), str(data["arch"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None


SourceKind = Literal["auto", "repositories", "offline"]


@dataclass(frozen=True, slots=True)
class PackageSource:
    """``repositories``: the hosts install from their configured repositories (they need a
    mirror). ``offline``: package files in ``directory`` on this machine are uploaded and
    installed offline; with ``download`` this machine fills it first (``apt-get download``).
    ``auto``: a host that reaches its repositories installs from them; the packages of the
    others are downloaded on this machine into ``directory`` and carried over."""

    kind: SourceKind = "auto"
    directory: Path | None = None
    download: bool = False

    def __post_init__(self) -> None:
        if self.kind != "repositories" and self.directory is None:
            raise ValueError(f"an {self.kind} package source needs its directory")
        if self.download and self.kind != "offline":
            raise ValueError("downloading first is a choice of the offline source")

    @classmethod
    def repositories(cls) -> PackageSource:
        return cls("repositories")

    @classmethod
    def offline(cls, directory: Path, *, download: bool = False) -> PackageSource:
        return cls("offline", directory.expanduser().absolute(), download)

    @classmethod
    def auto(cls, directory: Path) -> PackageSource:
        return cls("auto", directory.expanduser().absolute())

    @classmethod
    def choose(
        cls,
        kind: SourceKind,
        configured: Path | None,
        work_dir: Path,
        *,
        packages_dir: Path | None = None,
        download: bool = False,
    ) -> PackageSource:
        """The source of a run: the flags (``--download-packages``, ``--packages-dir``)
        override the cluster file's ``spec.osPackages`` (``kind``, ``configured`` dir)."""
        default = work_dir / "packages" / "deb"
        if download:
            return cls.offline(packages_dir or configured or default, download=True)
        if packages_dir is not None:
            return cls.offline(packages_dir)
        if kind == "repositories":
            return cls.repositories()
        if kind == "offline":
            return cls.offline(configured or default, download=configured is None)
        return cls.auto(configured or default)

    @property
    def carries(self) -> bool:
        """Whether packages may be downloaded on this machine for the hosts."""
        return self.download or self.kind == "auto"

    def describe(self) -> str:
        if self.kind == "repositories":
            return "the hosts' own package repositories"
        if self.kind == "auto":
            return f"the hosts' repositories, else carried from this machine ({self.directory})"
        how = "downloaded on this machine into " if self.download else "package files in "
        return f"{how}{self.directory}"


@dataclass(frozen=True, slots=True)
class DebFile:
    """A .deb named the Debian way: ``name_version_arch.deb`` (``:`` in versions as %3a)."""

    path: Path
    name: str
    version: str
    arch: str

    @classmethod
    def parse(cls, path: Path) -> DebFile | None:
        parts = path.name.removesuffix(".deb").split("_")
        if not path.name.endswith(".deb") or len(parts) != 3 or not all(parts):
            return None
        name, version, arch = parts
        return cls(path, name, version.replace("%3a", ":"), arch)


class PackageDirectoryError(KubexmsError):
    """The package directory cannot serve a host."""


def debs_for(directory: Path, arch: str) -> dict[str, DebFile]:
    """Package name -> the one .deb for ``arch`` (or ``all``) in ``directory``.

    Two files for one package (two versions) are an error naming both: which to install
    would be a guess.
    """
    if not directory.is_dir():
        raise PackageDirectoryError(f"the package directory {directory} does not exist")
    found: dict[str, DebFile] = {}
    for path in sorted(directory.glob("*.deb")):
        deb = DebFile.parse(path)
        if deb is None or deb.arch not in (arch, "all"):
            continue
        if deb.name in found:
            raise PackageDirectoryError(
                f"{directory} holds two files for package {deb.name}: "
                f"{found[deb.name].path.name} and {path.name}; keep one"
            )
        found[deb.name] = deb
    return found


def rpms_in(directory: Path) -> list[Path]:
    if not directory.is_dir():
        raise PackageDirectoryError(f"the package directory {directory} does not exist")
    return sorted(directory.glob("*.rpm"))


def first_choice_dependencies(apt_cache_output: str) -> dict[str, list[str]]:
    """Package -> what it depends on, from ``apt-cache depends`` (not recursive), as apt would
    choose on a host that has neither: the first of alternatives (``A | B``) and the first
    provider of a virtual package. Not every package that could satisfy a dependency: apt
    lists ``libelogind0`` under ``libsystemd0`` (it provides it), and installing it would
    remove systemd."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    alternative = False  # the dependency before was "A |": this line is its alternative
    wants_provider = False  # the dependency before was a virtual package
    for line in apt_cache_output.splitlines():
        if not line.strip():
            continue
        if not line[0].isspace():
            current = found.setdefault(line.strip(), [])
            alternative = wants_provider = False
        elif current is None:
            continue
        elif line.startswith("    "):  # a package providing the dependency above
            if wants_provider:
                current.append(_plain(line.strip()))
                wants_provider = False
        else:  # "  Depends: x" or " |Depends: x" (an alternative follows)
            kind, _, target = line.strip().partition(": ")
            taken = not alternative
            alternative = kind.startswith("|")
            wants_provider = taken and target.startswith("<")
            if taken and not wants_provider and target:
                current.append(_plain(target))
    return found


def dependency_groups(apt_cache_output: str) -> dict[str, list[list[str]]]:
    """Package -> its dependencies from ``apt-cache depends`` (not recursive), each one a
    group of what satisfies it: the alternatives (``A | B``) in order, with the packages apt
    lists as providing each. A host where any of a group is installed needs none of it
    (``init-system-helpers`` wants ``usrmerge | usr-is-merged``; a host with ``usr-is-merged``
    must not get ``usrmerge``, which refuses a /usr that is its own file system)."""
    found: dict[str, list[list[str]]] = {}
    current: list[list[str]] | None = None
    group: list[str] | None = None
    continued = False  # the dependency before was "A |": this line adds to its group
    for line in apt_cache_output.splitlines():
        if not line.strip():
            continue
        if not line[0].isspace():
            current = found.setdefault(line.strip(), [])
            group, continued = None, False
        elif current is None:
            continue
        elif line.startswith("    "):  # a package providing the dependency above
            if group is not None:
                group.append(_plain(line.strip()))
        else:  # "  Depends: x" or " |Depends: x" (an alternative follows)
            kind, _, target = line.strip().partition(": ")
            if group is None or not continued:
                group = []
                current.append(group)
            continued = kind.startswith("|")
            if target and not target.startswith("<"):  # <virtual>: its providers follow
                group.append(_plain(target))
    return {name: [g for g in groups if g] for name, groups in found.items()}


def needed_packages(
    names: Iterable[str],
    groups: Mapping[str, Sequence[Sequence[str]]],
    installed: Mapping[str, bool],
    available: Iterable[str],
) -> list[str]:
    """The packages of ``available`` a host must install to have ``names``, as apt would
    choose there: a package not installed, and for each of its dependency groups that nothing
    installed or chosen satisfies, the first alternative ``available`` holds (and so on)."""
    have = set(available)
    chosen: set[str] = set()
    pending = [name for name in names if not installed.get(name)]
    while pending:
        name = pending.pop()
        if name in chosen:
            continue
        chosen.add(name)
        for group in groups.get(name, ()):
            if any(installed.get(option) or option in chosen for option in group):
                continue
            pick = next((option for option in group if option in have), None)
            if pick is not None:
                pending.append(pick)
    return sorted(chosen & have)


def _plain(name: str) -> str:
    """``python3:any`` -> ``python3``: the package a multi-arch qualifier names."""
    return name.split(":", 1)[0]


def missing_from(names: Iterable[str], available: Iterable[str]) -> list[str]:
    have = set(available)
    return [name for name in names if name not in have]
