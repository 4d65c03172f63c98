"""The scripts that start a host, written next to it so what runs is plain to read.

Both kinds of host start the same way: ``unshare --mount`` runs ``boot.sh``, which joins the
host's cgroups, mounts the host's layers and homes onto its root skeleton (in that private mount
namespace, so nothing of it appears in the machine's mount table), then execs the init:

* systemd: ``systemd-nspawn --boot`` on the prepared root, in the host's network namespace.
* minimal: ``unshare --pid --uts --ipc --cgroup --fork --kill-child`` in the host's network
  namespace, running ``init.sh`` as PID 1, which mounts /proc (read-only /proc/sys except
  /proc/sys/net), /sys, the host's cgroup tree, a minimal /dev, fresh /tmp and /run, pivots
  into the host's root and execs ``tini -- sshd`` without CAP_SYS_MODULE.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path

from kubexms.sandbox._cgroups import Hierarchy
from kubexms.sandbox._host_files import DISK_DIRS, OLD_ROOT, HostPaths
from kubexms.sandbox._preflight import InitKind
from kubexms.sandbox._seed import LAYERS

__all__ = ["launch_argv", "write_boot_scripts"]

_DEVICES = ("null", "zero", "full", "random", "urandom", "tty")


def launch_argv(paths: HostPaths) -> list[str]:
    """The command that starts a host (its PID is the host's launcher)."""
    return ["unshare", "--mount", "--propagation", "private", "/bin/sh", str(paths.boot_script)]


def _q(value: str | Path) -> str:
    return shlex.quote(str(value))


def _boot_script(
    paths: HostPaths,
    *,
    seed: Path,
    cgroups: Sequence[Path],
    exec_line: str,
) -> str:
    root = paths.rootfs
    lines = [
        "#!/bin/sh",
        "# kubexms sandbox: start one host (generated; read, do not edit).",
        "set -eu",
        *(f"echo $$ > {_q(cgroup / 'cgroup.procs')}" for cgroup in cgroups),
        # The root must be a mount point of its own (pivot_root needs one).
        f"mount --bind {_q(root)} {_q(root)}",
    ]
    for layer in LAYERS:
        options = (
            f"lowerdir={seed / layer}:/{layer},"
            f"upperdir={paths.upper(layer)},workdir={paths.work(layer)}"
        )
        lines.append(f"mount -t overlay overlay -o {_q(options)} {_q(root / layer)}")
    for directory in DISK_DIRS:
        # On the machine's disk, where overlayfs (containerd's snapshotter) works.
        lines.append(f"mkdir -p {_q(root / directory)}")
        lines.append(f"mount --bind {_q(paths.disk(directory))} {_q(root / directory)}")
    lines += [
        f"mount --bind {_q(paths.root_home)} {_q(root / 'root')}",
        f"mount --bind {_q(paths.homes)} {_q(root / 'home')}",
        exec_line,
        "",
    ]
    return "\n".join(lines)


def _nspawn_exec(paths: HostPaths, *, name: str, machine: str, netns: str) -> str:
    argv = [
        "systemd-nspawn",
        "--quiet",
        "--boot",
        f"--directory={paths.rootfs}",
        f"--machine={machine}",
        f"--hostname={name}",
        f"--network-namespace-path=/run/netns/{netns}",
        # The machine runs no systemd to register with; our cgroups were made by boot.sh.
        "--register=no",
        "--keep-unit",
        "--console=passive",
        "--link-journal=no",
        "--resolv-conf=off",
        "--timezone=off",
        # Room for container runtimes inside (runc): all capabilities but loading modules,
        # and the keyring system calls.
        "--capability=all",
        "--drop-capability=CAP_SYS_MODULE",
        "--system-call-filter=@keyring",
    ]
    # nspawn makes /proc/sys/net writable only for networks it creates itself; the host's
    # namespace is ours, so ask for it (everything else in /proc/sys stays read-only).
    return "SYSTEMD_NSPAWN_API_VFS_WRITABLE=network exec " + shlex.join(argv)


def _minimal_exec(paths: HostPaths, *, netns: str) -> str:
    argv = [
        "nsenter",
        f"--net=/run/netns/{netns}",
        "--",
        "unshare",
        "--uts",
        "--ipc",
        "--pid",
        "--cgroup",
        "--fork",
        "--kill-child",
        "--",
        "/bin/sh",
        str(paths.init_script),
    ]
    return "exec " + shlex.join(argv)


def _init_script(paths: HostPaths, *, name: str, hierarchies: Sequence[Hierarchy]) -> str:
    r = paths.rootfs
    lines = [
        "#!/bin/sh",
        "# kubexms sandbox: PID 1 of a minimal host until it becomes tini (generated).",
        "set -eu",
        f"R={_q(r)}",
        'mount -t proc -o nosuid,nodev,noexec proc "$R/proc"',
        # A host's boot must not change the machine's kernel settings: /proc/sys read-only,
        # except the host's own network namespace settings.
        'mount --bind "$R/proc/sys" "$R/proc/sys"',
        'mount -o remount,bind,ro "$R/proc/sys"',
        'mount --bind "$R/proc/sys/net" "$R/proc/sys/net"',
        'mount -o remount,bind,rw "$R/proc/sys/net"',
        'mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$R/sys"',
    ]
    if any(h.name == "" for h in hierarchies):
        lines.append('mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 "$R/sys/fs/cgroup"')
    elif hierarchies:
        lines.append('mount -t tmpfs -o nosuid,nodev,noexec,mode=755 cgroup "$R/sys/fs/cgroup"')
        for hierarchy in hierarchies:
            target = f'"$R/sys/fs/cgroup/"{_q(hierarchy.name)}'
            lines.append(f"mkdir -p {target}")
            if hierarchy.fstype == "cgroup2":
                lines.append(f"mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 {target}")
            else:
                options = ",".join(["nosuid", "nodev", "noexec", *hierarchy.selectors])
                lines.append(f"mount -t cgroup -o {_q(options)} cgroup {target}")
    lines += [
        'mount -t tmpfs -o nosuid,mode=755,size=4m dev "$R/dev"',
        *(
            f'touch "$R/dev/{device}" && mount --bind /dev/{device} "$R/dev/{device}"'
            for device in _DEVICES
        ),
        'mkdir -m 755 "$R/dev/pts"',
        "mount -t devpts -o newinstance,ptmxmode=0666,mode=620,gid=5,nosuid,noexec"
        ' devpts "$R/dev/pts"',
        'ln -s pts/ptmx "$R/dev/ptmx"',
        'mkdir -m 1777 "$R/dev/shm"',
        'mount -t tmpfs -o nosuid,nodev,mode=1777 shm "$R/dev/shm"',
        'mkdir -m 755 "$R/dev/mqueue"',
        'mount -t mqueue -o nosuid,nodev,noexec mqueue "$R/dev/mqueue"',
        'ln -s /proc/self/fd "$R/dev/fd"',
        'ln -s /proc/self/fd/0 "$R/dev/stdin"',
        'ln -s /proc/self/fd/1 "$R/dev/stdout"',
        'ln -s /proc/self/fd/2 "$R/dev/stderr"',
        'mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs "$R/tmp"',
        'mount -t tmpfs -o nosuid,nodev,mode=755 tmpfs "$R/run"',
        'mkdir -m 755 "$R/run/sshd"',
        'mkdir -m 1777 "$R/run/lock"',
        f"hostname {_q(name)}",
        'cd "$R"',
        f"pivot_root . {OLD_ROOT}",
        "cd /",
        f"umount -l /{OLD_ROOT}",
        f"rmdir /{OLD_ROOT}",
        # Like a systemd host: every capability but loading kernel modules.
        "exec /usr/bin/setpriv --bounding-set -sys_module -- /usr/bin/tini -- /usr/sbin/sshd -D -e",
        "",
    ]
    return "\n".join(lines)


def write_boot_scripts(
    paths: HostPaths,
    *,
    init: InitKind,
    name: str,
    machine: str,
    netns: str,
    seed: Path,
    cgroups: Sequence[Path],
    hierarchies: Sequence[Hierarchy],
) -> None:
    """Write boot.sh (and init.sh for a minimal host) into the host's directory."""
    if init == "systemd":
        exec_line = _nspawn_exec(paths, name=name, machine=machine, netns=netns)
    else:
        exec_line = _minimal_exec(paths, netns=netns)
        paths.init_script.write_text(_init_script(paths, name=name, hierarchies=hierarchies))
        paths.init_script.chmod(0o700)
    paths.boot_script.write_text(
        _boot_script(paths, seed=seed, cgroups=cgroups, exec_line=exec_line)
    )
    paths.boot_script.chmod(0o700)
