"""A cgroup of its own for every host, in every hierarchy this machine mounts.

Each host is started inside ``<our cgroup>/kubexms-<fleet>/<host>`` of each hierarchy and gets a
cgroup namespace rooted there, so what a host's init or container runtime does to "its" cgroup
tree stays inside that subtree and never touches another host's or the machine's.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kubexms.sandbox._errors import SandboxError

__all__ = [
    "Hierarchy",
    "create_fleet_cgroups",
    "create_host_cgroups",
    "discover_hierarchies",
    "remove_cgroup_trees",
]

_CGROUP_ROOT = "/sys/fs/cgroup"
# Mount options of a v1 hierarchy that are not controllers (or name=) selectors.
_NOT_SELECTORS = {"rw", "ro", "clone_children", "noprefix", "xattr", "cpuset_v2_mode"}


@dataclass(frozen=True)
class Hierarchy:
    """One mounted cgroup hierarchy and our own cgroup in it."""

    mountpoint: Path
    fstype: str  # "cgroup" (v1) or "cgroup2"
    selectors: tuple[str, ...]  # v1: controllers and name=..., as given to mount -o
    own_cgroup: Path  # directory of this process's cgroup in the hierarchy

    @property
    def name(self) -> str:
        """The mount point relative to /sys/fs/cgroup ("" when the hierarchy is mounted there)."""
        relative = os.path.relpath(self.mountpoint, _CGROUP_ROOT)
        return "" if relative == "." else relative


def discover_hierarchies() -> list[Hierarchy]:
    """The cgroup hierarchies mounted under /sys/fs/cgroup and our cgroup in each."""
    own: dict[frozenset[str], str] = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        own[frozenset(controllers.split(",")) if controllers else frozenset()] = path
    hierarchies: list[Hierarchy] = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        separator = fields.index("-")
        root, mountpoint = fields[3], fields[4]
        fstype, super_options = fields[separator + 1], fields[separator + 3]
        if fstype not in ("cgroup", "cgroup2") or not mountpoint.startswith(_CGROUP_ROOT):
            continue
        if fstype == "cgroup2":
            selectors: tuple[str, ...] = ()
            own_path = own.get(frozenset())
        else:
            selectors = tuple(
                option
                for option in super_options.split(",")
                if option not in _NOT_SELECTORS and not option.startswith("release_agent=")
            )
            own_path = next((p for c, p in own.items() if c and c == frozenset(selectors)), None)
        if own_path is None:
            continue
        relative = os.path.relpath(own_path, root) if own_path.startswith(root) else "."
        hierarchies.append(
            Hierarchy(
                mountpoint=Path(mountpoint),
                fstype=fstype,
                selectors=selectors,
                own_cgroup=(Path(mountpoint) / relative).resolve(),
            )
        )
    return hierarchies


def fleet_cgroup(hierarchy: Hierarchy, prefix: str) -> Path:
    """The directory that holds all hosts of one fleet in a hierarchy."""
    return hierarchy.own_cgroup / f"kubexms-{prefix}"


def _make_cgroup(path: Path, *, cpuset: bool) -> None:
    if path.is_dir():
        return
    path.mkdir()
    if cpuset:
        # A new v1 cpuset has no CPUs or memory nodes and admits no process until given some.
        for knob in ("cpuset.cpus", "cpuset.mems"):
            value = (path.parent / knob).read_text().strip()
            (path / knob).write_text(value)


def create_fleet_cgroups(hierarchies: Sequence[Hierarchy], prefix: str) -> None:
    """Create the directory that will hold the fleet's hosts in every hierarchy."""
    for hierarchy in hierarchies:
        fleet = fleet_cgroup(hierarchy, prefix)
        try:
            _make_cgroup(fleet, cpuset="cpuset" in hierarchy.selectors)
        except OSError as exc:
            raise SandboxError(f"cannot create the cgroup {fleet}: {exc.strerror}") from exc


def create_host_cgroups(hierarchies: Sequence[Hierarchy], prefix: str, host: str) -> list[Path]:
    """Create a host's cgroup in every hierarchy; return their directories."""
    created: list[Path] = []
    for hierarchy in hierarchies:
        cpuset = "cpuset" in hierarchy.selectors
        fleet = fleet_cgroup(hierarchy, prefix)
        try:
            host_dir = fleet / host
            _make_cgroup(host_dir, cpuset=cpuset)
        except OSError as exc:
            raise SandboxError(f"cannot create the cgroup {fleet / host}: {exc.strerror}") from exc
        created.append(host_dir)
    return created


def _cgroup_dirs_deepest_first(top: Path) -> list[Path]:
    dirs: list[Path] = []
    for current, subdirs, _ in os.walk(top, topdown=True):
        dirs.extend(Path(current) / d for d in subdirs)
    dirs.sort(key=lambda p: len(p.parts), reverse=True)
    return [*dirs, top]


async def remove_cgroup_trees(tops: Sequence[Path], *, timeout: float = 10.0) -> list[str]:
    """Remove cgroup directory trees (empty once their processes exited); return leftovers."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    pending = [top for top in tops if top.is_dir()]
    while True:
        still: list[Path] = []
        for top in pending:
            for directory in _cgroup_dirs_deepest_first(top):
                with contextlib.suppress(FileNotFoundError):
                    try:
                        directory.rmdir()
                    except OSError as exc:
                        # Busy: a process that was just killed has not quite left yet.
                        if exc.errno not in (errno.EBUSY, errno.ENOTEMPTY):
                            raise
            if top.is_dir():
                still.append(top)
        if not still or loop.time() >= deadline:
            return [f"cgroup {top}" for top in still]
        pending = still
        await asyncio.sleep(0.1)
