"""The files of one host on the machine: its root skeleton, upper layers and home directories.

Layout under ``<fleet>/hosts/<name>/``:
``rootfs/`` the host's ``/`` (a skeleton; the layers, homes and API filesystems are mounted on
it when the host starts), ``upper/<layer>`` and ``work/<layer>`` the overlay upper and work
directories, ``root/`` and ``home/`` the host's own clean /root and /home, ``disk/<name>`` the
directories bind-mounted at :data:`DISK_DIRS` (on the machine's own filesystem, not the layers).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kubexms.sandbox._keys import KeyPair, write_private_file
from kubexms.sandbox._seed import LAYERS, Account, copy_skeleton_files, mkdirs_like

__all__ = ["DISK_DIRS", "OLD_ROOT", "HostPaths", "prepare_host"]

#: Where the machine's root is parked during pivot_root in a minimal host, then detached.
OLD_ROOT = ".kubexms-oldroot"
#: Directories of a host that live on the machine's disk instead of the host's copy-on-write
#: layers: containerd's overlayfs snapshotter cannot mount an overlay whose layers sit on an
#: overlay ("failed to mount ...: invalid argument"), and real hosts have them on ext4 or xfs.
DISK_DIRS = ("var/lib/containerd", "var/lib/kubelet")
_SKELETON_DIRS = ("proc", "sys", "dev", "run", "tmp", "mnt", "media", "boot", "root", "home")


@dataclass(frozen=True)
class HostPaths:
    """Where one host's files live on the machine."""

    base: Path

    @property
    def rootfs(self) -> Path:
        """The host's / before its mounts."""
        return self.base / "rootfs"

    def upper(self, layer: str) -> Path:
        """The overlay upper directory of one layer: everything the host changed there."""
        return self.base / "upper" / layer

    def work(self, layer: str) -> Path:
        """The overlay work directory of one layer."""
        return self.base / "work" / layer

    @property
    def root_home(self) -> Path:
        """The host's /root."""
        return self.base / "root"

    @property
    def homes(self) -> Path:
        """The host's /home."""
        return self.base / "home"

    def disk(self, directory: str) -> Path:
        """Where one of :data:`DISK_DIRS` of the host lives on the machine."""
        return self.base / "disk" / directory.rsplit("/", 1)[-1]

    @property
    def boot_script(self) -> Path:
        """The script that mounts the host's filesystems and starts its init."""
        return self.base / "boot.sh"

    @property
    def init_script(self) -> Path:
        """PID 1's set-up script in a minimal host."""
        return self.base / "init.sh"

    @property
    def console_log(self) -> Path:
        """Output of the host's launcher and init."""
        return self.base / "console.log"


def _skeleton(rootfs: Path) -> None:
    rootfs.mkdir(mode=0o755)
    for layer in (*LAYERS, *_SKELETON_DIRS):
        mkdirs_like(rootfs, layer)
    (rootfs / OLD_ROOT).mkdir(mode=0o700)
    # Merged-/usr links (bin -> usr/bin, ...) exactly as the machine has them.
    for entry in os.scandir("/"):
        if entry.is_symlink():
            target = os.readlink(entry.path)
            if target.startswith(("usr/", "/usr/")):
                (rootfs / entry.name).symlink_to(target)


def _authorized_keys(home: Path, public_key: str, owner: tuple[int, int]) -> None:
    ssh_dir = home / ".ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    keys = ssh_dir / "authorized_keys"
    keys.write_text(public_key + "\n")
    os.chmod(keys, 0o600)
    for path in (ssh_dir, keys):
        os.chown(path, *owner)


def prepare_host(
    paths: HostPaths,
    *,
    name: str,
    machine_id: str,
    host_key: KeyPair,
    client_public_key: str,
    accounts: Sequence[Account],
) -> None:
    """Create everything a host needs on disk before it starts."""
    paths.base.mkdir(mode=0o700, parents=True)
    _skeleton(paths.rootfs)
    (paths.base / "upper").mkdir(mode=0o755)
    (paths.base / "work").mkdir(mode=0o700)
    for layer in LAYERS:
        mkdirs_like(paths.base / "upper", layer)
        paths.work(layer).mkdir(mode=0o700)

    etc = paths.upper("etc")
    (etc / "hostname").write_text(f"{name}\n")
    (etc / "machine-id").write_text(f"{machine_id}\n")
    os.chmod(etc / "machine-id", 0o444)
    ssh_dir = mkdirs_like(paths.base / "upper", "etc/ssh")
    write_private_file(ssh_dir / "ssh_host_ed25519_key", host_key.private)
    (ssh_dir / "ssh_host_ed25519_key.pub").write_text(host_key.public + "\n")

    for directory in DISK_DIRS:
        paths.disk(directory).mkdir(mode=0o700, parents=True)
    paths.root_home.mkdir(mode=0o700)
    paths.homes.mkdir(mode=0o755)
    for account in accounts:
        home = paths.root_home if account.home == "/root" else paths.homes / account.name
        home.mkdir(mode=0o700 if account.uid == 0 else 0o750, exist_ok=True)
        owner = (account.uid, account.gid)
        copy_skeleton_files(home, owner)
        _authorized_keys(home, client_public_key, owner)
    os.chmod(paths.root_home, stat.S_IRWXU)
