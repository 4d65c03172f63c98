"""Checks made before anything is created: privileges, tools, kernel features, directory."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Literal

from kubexms.sandbox._errors import SandboxError

__all__ = [
    "MAX_HOSTS",
    "InitKind",
    "check_count",
    "check_directory",
    "check_kernel",
    "check_root",
    "check_tools",
    "choose_init",
    "systemd_init_available",
]

InitKind = Literal["systemd", "minimal"]

#: Hosts in one fleet. A /22 holds them; more is more than two cores rehearse usefully.
MAX_HOSTS = 1000

# Search here as well as PATH: a non-login root shell may lack the sbin directories.
_SEARCH_PATH = os.pathsep.join(
    [os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"]
)

# tool -> Debian package that provides it
_COMMON_TOOLS: dict[str, str] = {
    "ip": "iproute2",
    "unshare": "util-linux",
    "nsenter": "util-linux",
    "mount": "mount",
    "umount": "mount",
    "sshd": "openssh-server",
    "sudo": "sudo",
    "openssl": "openssl",
}
_INIT_TOOLS: dict[InitKind, dict[str, str]] = {
    "systemd": {"systemd-nspawn": "systemd-container"},
    "minimal": {"tini": "tini", "pivot_root": "util-linux", "setpriv": "util-linux"},
}
_SYSTEMD_BINARY = Path("/lib/systemd/systemd")

# The overlay layers of a host are these machine directories; a fleet directory inside one of
# them would make a layer contain its own upper directory, which overlayfs refuses.
LAYERED_DIRECTORIES = ("/etc", "/var", "/opt", "/usr", "/srv")


def check_root() -> None:
    """Raise unless running as root (namespaces, mounts and links need it)."""
    if os.geteuid() != 0:
        raise SandboxError(
            "the simulated fleet needs root (network namespaces, mounts, bridges); "
            "run it as root, e.g. with sudo"
        )


def check_count(count: int) -> None:
    """Raise unless ``count`` hosts is a fleet size we support."""
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_HOSTS:
        raise SandboxError(f"host count must be between 1 and {MAX_HOSTS}, got {count!r}")


def find_tool(name: str) -> str | None:
    """The absolute path of a program, looking in the sbin directories too."""
    return shutil.which(name, path=_SEARCH_PATH)


def check_tools(init: InitKind) -> dict[str, str]:
    """Return tool name -> absolute path; raise naming the apt packages of missing tools."""
    wanted = {**_COMMON_TOOLS, **_INIT_TOOLS[init]}
    found: dict[str, str] = {}
    missing: dict[str, str] = {}
    for tool, package in wanted.items():
        path = find_tool(tool)
        if path is None:
            missing[tool] = package
        else:
            found[tool] = path
    if init == "systemd" and not _SYSTEMD_BINARY.exists():
        missing[str(_SYSTEMD_BINARY)] = "systemd"
    if missing:
        tools = ", ".join(sorted(missing))
        packages = " ".join(sorted(set(missing.values())))
        raise SandboxError(
            f"missing tools for a {init} fleet: {tools}; install them with: "
            f"apt-get install {packages}"
        )
    return found


def systemd_init_available() -> bool:
    """Whether hosts can boot systemd here: nspawn, systemd and a cgroup tree for it."""
    if find_tool("systemd-nspawn") is None or not _SYSTEMD_BINARY.exists():
        return False
    cgroup_root = Path("/sys/fs/cgroup")
    return (cgroup_root / "cgroup.controllers").exists() or (
        cgroup_root / "systemd" / "cgroup.procs"
    ).exists()


def choose_init(init: InitKind | None) -> InitKind:
    """The kind of host to start: the one asked for, else systemd where it works."""
    if init is None:
        return "systemd" if systemd_init_available() else "minimal"
    if init not in ("systemd", "minimal"):
        raise SandboxError(f"init must be 'systemd' or 'minimal', got {init!r}")
    return init


def check_kernel() -> None:
    """Raise if this kernel has no overlayfs (bridge and veth failures surface when created)."""
    filesystems = Path("/proc/filesystems").read_text()
    if "\toverlay\n" not in filesystems:
        raise SandboxError(
            "the kernel has no overlay filesystem (module 'overlay'); hosts need it "
            "for their private /etc, /var, /opt, /usr and /srv"
        )


def check_directory(directory: Path) -> None:
    """Raise if the fleet directory cannot hold overlay upper layers."""
    resolved = str(directory.resolve())
    # The path goes into overlayfs mount options, where "," and ":" are separators.
    if any(character in resolved for character in ",:\n\t "):
        raise SandboxError(
            f"the fleet directory {resolved!r} contains a comma, colon or whitespace; "
            "overlayfs cannot take such paths, choose another directory"
        )
    for layered in LAYERED_DIRECTORIES:
        if resolved == layered or resolved.startswith(layered + "/"):
            raise SandboxError(
                f"the fleet directory {resolved} is inside {layered}, which hosts see "
                "through an overlay; choose a directory elsewhere (e.g. under /root or /tmp)"
            )
