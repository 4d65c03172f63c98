"""The seed layer: what every host of a fleet sees on top of the machine's own directories.

Hosts look at the machine's /etc, /var, /opt, /usr and /srv through overlayfs with this layer
in between (users, sudoers, sshd config, systemd masks) and a private upper directory on top.
Files of the machine a host must not see are hidden with overlayfs whiteouts; directories whose
machine contents must not show through (e.g. the units the machine enables) are made opaque.
"""

from __future__ import annotations

import os
import shutil
import stat
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kubexms.sandbox._command import run_tool
from kubexms.sandbox._errors import SandboxError

__all__ = ["LAYERS", "Account", "build_seed", "hash_passwords", "mkdirs_like"]

#: Machine directories each host sees through its own overlay.
LAYERS = ("etc", "var", "opt", "usr", "srv")

OPS_USER = "ops"
DEPLOYER_USER = "deployer"

_SSHD_CONFIG = """\
# kubexms sandbox host: key and password logins for root, ops and deployer.
Port 22
ListenAddress 0.0.0.0
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin yes
PubkeyAuthentication yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
UsePAM yes
UseDNS no
PrintMotd no
PrintLastLog no
X11Forwarding no
AllowTcpForwarding yes
AllowAgentForwarding yes
MaxStartups 512:30:1024
MaxSessions 64
AcceptEnv LANG LC_*
Subsystem sftp /usr/lib/openssh/sftp-server
"""

_SUDOERS = f"""\
# kubexms sandbox: {OPS_USER} needs no password, {DEPLOYER_USER} always needs one.
{OPS_USER} ALL=(ALL:ALL) NOPASSWD: ALL
{DEPLOYER_USER} ALL=(ALL:ALL) ALL
Defaults:{DEPLOYER_USER} timestamp_timeout=0
"""

_CGROUP_WRITABLE_UNIT = """\
[Unit]
Description=Writable cgroup controllers for container runtimes (kubexms sandbox host)
DefaultDependencies=no
Before=sysinit.target
ConditionVirtualization=container

[Service]
Type=oneshot
RemainAfterExit=yes
# The host's cgroup namespace is rooted in its own cgroup: writable means only its own subtree.
# remount,bind changes only this mount's read-only flag, not the hierarchy shared with the machine.
ExecStart=/bin/sh -c 'mount -o remount,rw /sys/fs/cgroup; \
for d in /sys/fs/cgroup/*/; do mount -o remount,bind,rw "$d" 2>/dev/null; done; true'

[Install]
WantedBy=sysinit.target
"""

# Units that have no business in a simulated host: consoles, clocks, kernel mounts, machine
# maintenance. Timers and database servers found on the machine are added at build time.
_MASKED_UNITS = (
    "getty.target",
    "getty-static.service",
    "getty@.service",
    "serial-getty@.service",
    "console-getty.service",
    "container-getty@.service",
    "systemd-timesyncd.service",
    "var-lib-machines.mount",
    "machines.target",
    "systemd-machined.service",
    "sys-kernel-debug.mount",
    "sys-kernel-tracing.mount",
    "sys-kernel-config.mount",
    "sys-fs-fuse-connections.mount",
    "dev-hugepages.mount",
    "proc-sys-fs-binfmt_misc.automount",
    "proc-sys-fs-binfmt_misc.mount",
    "systemd-binfmt.service",
    "systemd-modules-load.service",
    "kmod-static-nodes.service",
    "systemd-pstore.service",
    "systemd-firstboot.service",
    "systemd-repart.service",
    "systemd-pcrphase.service",
    "systemd-pcrphase-sysinit.service",
    "systemd-ask-password-wall.path",
    "systemd-ask-password-console.path",
    "e2scrub_reap.service",
    "e2scrub_all.service",
    "fstrim.service",
    "apt-daily.service",
    "apt-daily-upgrade.service",
    "man-db.service",
    "dpkg-db-backup.service",
    # Users exist already (the machine's passwd is the base); dpkg runs systemd-sysusers itself.
    "systemd-sysusers.service",
    # The journal is volatile in a host (see _JOURNALD_CONFIG): nothing to flush to disk.
    "systemd-journal-flush.service",
)
# Generators run at every boot and reload; these have nothing to find in a simulated host.
_MASKED_GENERATORS = (
    "postgresql-generator",
    "systemd-cryptsetup-generator",
    "systemd-debug-generator",
    "systemd-getty-generator",
    "systemd-gpt-auto-generator",
    "systemd-hibernate-resume-generator",
    "systemd-integritysetup-generator",
    "systemd-system-update-generator",
    "systemd-veritysetup-generator",
)
_JOURNALD_CONFIG = """\
# kubexms sandbox host: keep the journal in memory, small.
[Journal]
Storage=volatile
RuntimeMaxUse=16M
"""
_DATABASE_UNIT_PREFIXES = ("postgresql", "mysql", "mariadb", "redis", "mongod", "memcached")
_UNIT_DIRECTORIES = (Path("/lib/systemd/system"), Path("/usr/lib/systemd/system"))
_MACHINE_UNIT_CONFIG = Path("/etc/systemd/system")


@dataclass(frozen=True)
class Account:
    """A login account on every host."""

    name: str
    uid: int
    gid: int
    home: str


def mkdirs_like(base: Path, relative: str, *, reference: Path = Path("/")) -> Path:
    """Create ``base/relative`` with each level's mode and owner copied from the machine.

    An overlay directory's attributes come from its highest layer, so a layer's directories must
    look like the machine's (e.g. /etc/ssh 0755 root) or hosts would see them changed.
    """
    current = base
    for part in Path(relative).parts:
        current = current / part
        reference = reference / part
        if current.is_dir():
            continue
        current.mkdir()
        try:
            info = reference.stat()
        except FileNotFoundError:
            continue
        os.chmod(current, stat.S_IMODE(info.st_mode))
        os.chown(current, info.st_uid, info.st_gid)
    return current


def _write(path: Path, content: str, *, mode: int = 0o644, owner: tuple[int, int] = (0, 0)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    os.chmod(path, mode)
    os.chown(path, *owner)


def _whiteout(path: Path) -> None:
    """Hide the machine's file at this place (an overlayfs whiteout: a 0/0 character device)."""
    path.unlink(missing_ok=True)
    os.mknod(path, stat.S_IFCHR | 0o000, os.makedev(0, 0))


def _make_opaque(path: Path) -> None:
    """Let nothing of the machine's directory at this place show through."""
    os.setxattr(path, "trusted.overlay.opaque", b"y")


def _parse_colon_file(path: Path) -> list[list[str]]:
    return [line.split(":") for line in path.read_text().splitlines() if line.strip()]


def _free_id(used: set[int]) -> int:
    candidate = 1000
    while candidate in used:
        candidate += 1
    used.add(candidate)
    return candidate


async def hash_passwords(passwords: Sequence[str]) -> list[str]:
    """SHA-512 crypt hashes, computed by openssl from stdin (never from the command line)."""
    if not passwords:
        return []
    if any("\n" in password for password in passwords):
        raise SandboxError("passwords must not contain line breaks")
    result = await run_tool(
        ["openssl", "passwd", "-6", "-stdin"],
        stdin="".join(f"{password}\n" for password in passwords).encode(),
        what="hashing the fleet's passwords",
    )
    hashes = result.stdout.split()
    if len(hashes) != len(passwords) or not all(h.startswith("$6$") for h in hashes):
        raise SandboxError("openssl passwd returned unexpected output while hashing passwords")
    return hashes


def _accounts_and_databases(seed_etc: Path, password_hashes: dict[str, str]) -> list[Account]:
    """Write passwd, group, shadow and gshadow: the machine's plus ops and deployer."""
    machine = Path("/etc")
    passwd = _parse_colon_file(machine / "passwd")
    group = _parse_colon_file(machine / "group")
    shadow = _parse_colon_file(machine / "shadow")
    gshadow = _parse_colon_file(machine / "gshadow")
    used_uids = {int(entry[2]) for entry in passwd}
    used_gids = {int(entry[2]) for entry in group}
    today = str(int(time.time() // 86400))

    accounts = [Account(name="root", uid=0, gid=0, home="/root")]
    for name in (OPS_USER, DEPLOYER_USER):
        existing = next((entry for entry in passwd if entry[0] == name), None)
        if existing is not None:
            uid, gid = int(existing[2]), int(existing[3])
            passwd.remove(existing)
        else:
            uid = _free_id(used_uids)
            gid = uid if uid not in used_gids else _free_id(used_gids)
            used_gids.add(gid)
        passwd.append([name, "x", str(uid), str(gid), "", f"/home/{name}", "/bin/bash"])
        if not any(entry[2] == str(gid) for entry in group):
            group.append([name, "x", str(gid), ""])
            gshadow = [entry for entry in gshadow if entry[0] != name]
            gshadow.append([name, "!", "", ""])
        accounts.append(Account(name=name, uid=uid, gid=gid, home=f"/home/{name}"))

    shadow = [entry for entry in shadow if entry[0] not in {a.name for a in accounts}]
    for account in accounts:
        # "*": no password login, yet not locked (a locked account would refuse keys too).
        secret = password_hashes.get(account.name, "*")
        shadow.append([account.name, secret, today, "0", "99999", "7", "", "", ""])

    def dump(entries: list[list[str]]) -> str:
        return "".join(":".join(entry) + "\n" for entry in entries)

    shadow_group = (machine / "shadow").stat().st_gid
    _write(seed_etc / "passwd", dump(passwd))
    _write(seed_etc / "group", dump(group))
    _write(seed_etc / "shadow", dump(shadow), mode=0o640, owner=(0, shadow_group))
    _write(seed_etc / "gshadow", dump(gshadow), mode=0o640, owner=(0, shadow_group))
    return accounts


def _unit_names(pattern: str) -> set[str]:
    names: set[str] = set()
    for directory in (*_UNIT_DIRECTORIES, _MACHINE_UNIT_CONFIG):
        if directory.is_dir():
            names.update(path.name for path in directory.glob(pattern))
    return names


def _systemd_config(seed_etc: Path) -> None:
    units = mkdirs_like(seed_etc.parent, "etc/systemd/system")
    masked = set(_MASKED_UNITS) | _unit_names("*.timer")
    for prefix in _DATABASE_UNIT_PREFIXES:
        masked |= _unit_names(f"{prefix}*.service")
    for unit in sorted(masked):
        (units / unit).unlink(missing_ok=True)
        (units / unit).symlink_to("/dev/null")

    # What the machine enables (its database, timers, getty) is not what a fresh host runs:
    # each of the machine's .wants/.requires directories is replaced by an empty opaque one.
    wants_dirs = {"multi-user.target.wants", "sysinit.target.wants"}
    if _MACHINE_UNIT_CONFIG.is_dir():
        wants_dirs |= {
            entry.name
            for entry in _MACHINE_UNIT_CONFIG.iterdir()
            if entry.is_dir() and entry.name.endswith((".wants", ".requires"))
        }
    for name in sorted(wants_dirs):
        directory = units / name
        directory.mkdir(exist_ok=True)
        _make_opaque(directory)
    for unit_dir in _UNIT_DIRECTORIES:
        ssh_unit = unit_dir / "ssh.service"
        if ssh_unit.exists():
            (units / "multi-user.target.wants" / "ssh.service").symlink_to(ssh_unit)
            break
    _write(units / "kubexms-cgroup-writable.service", _CGROUP_WRITABLE_UNIT)
    (units / "sysinit.target.wants" / "kubexms-cgroup-writable.service").symlink_to(
        "/etc/systemd/system/kubexms-cgroup-writable.service"
    )
    generators = mkdirs_like(seed_etc.parent, "etc/systemd/system-generators")
    for generator in _MASKED_GENERATORS:
        (generators / generator).unlink(missing_ok=True)
        (generators / generator).symlink_to("/dev/null")
    journald = mkdirs_like(seed_etc.parent, "etc/systemd/journald.conf.d")
    _write(journald / "kubexms-sandbox.conf", _JOURNALD_CONFIG)
    default_target = units / "default.target"
    default_target.unlink(missing_ok=True)
    default_target.symlink_to("/lib/systemd/system/multi-user.target")


def _pam_sshd(seed_etc: Path) -> None:
    """sshd's PAM stack without the motd and mail modules, which run scripts on every login."""
    machine = Path("/etc/pam.d/sshd")
    if not machine.exists():
        return
    kept = [
        line
        for line in machine.read_text().splitlines()
        if not any(module in line for module in ("pam_motd.so", "pam_mail.so"))
    ]
    mkdirs_like(seed_etc.parent, "etc/pam.d")
    _write(seed_etc / "pam.d" / "sshd", "\n".join(kept) + "\n")


def _hosts_file(hosts: Sequence[tuple[str, str]]) -> str:
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback", ""]
    lines += [f"{address}\t{name}" for name, address in hosts]
    return "\n".join(lines) + "\n"


async def build_seed(
    seed: Path, *, hosts: Sequence[tuple[str, str]], passwords: dict[str, str]
) -> list[Account]:
    """Build the shared layer under ``seed`` (one subdirectory per layered machine directory).

    ``hosts`` are (name, address) pairs for /etc/hosts; ``passwords`` maps account names to
    their plain passwords (root and deployer). Returns the login accounts.
    """
    names = list(passwords)
    hashes = dict(zip(names, await hash_passwords([passwords[n] for n in names]), strict=True))
    return _write_seed(seed, hosts=hosts, password_hashes=hashes)


def _write_seed(
    seed: Path, *, hosts: Sequence[tuple[str, str]], password_hashes: dict[str, str]
) -> list[Account]:
    for layer in LAYERS:
        mkdirs_like(seed, layer)
    seed_etc = seed / "etc"
    accounts = _accounts_and_databases(seed_etc, password_hashes)

    mkdirs_like(seed, "etc/sudoers.d")
    _write(seed_etc / "sudoers.d" / "kubexms-sandbox", _SUDOERS, mode=0o440)

    ssh_dir = mkdirs_like(seed, "etc/ssh")
    _write(ssh_dir / "sshd_config", _SSHD_CONFIG)
    for machine_key in Path("/etc/ssh").glob("ssh_host_*"):
        # The machine's own host keys are none of a host's business.
        _whiteout(ssh_dir / machine_key.name)

    _pam_sshd(seed_etc)
    _write(seed_etc / "fstab", "# kubexms sandbox host: nothing to mount\n")
    _write(seed_etc / "hosts", _hosts_file(hosts))
    # No nameserver: lookups fail at once on 127.0.0.1:53 instead of timing out (no route out).
    _write(seed_etc / "resolv.conf", "# kubexms sandbox host: no DNS beyond /etc/hosts\n")
    _systemd_config(seed_etc)
    # man-db's dpkg trigger re-indexes every manual page after each package transaction while
    # this file exists: minutes of CPU across a fleet installing packages at once, for pages
    # nobody reads on a simulated host.
    mkdirs_like(seed, "var/lib/man-db")
    _whiteout(seed / "var" / "lib" / "man-db" / "auto-update")
    return accounts


def copy_skeleton_files(target: Path, owner: tuple[int, int]) -> None:
    """Copy /etc/skel into a new home directory, owned by its user."""
    skel = Path("/etc/skel")
    if skel.is_dir():
        shutil.copytree(skel, target, symlinks=True, dirs_exist_ok=True)
    for current, dirs, files in os.walk(target):
        for name in [*dirs, *files]:
            os.lchown(Path(current) / name, *owner)
    os.chown(target, *owner)
