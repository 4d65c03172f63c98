"""LocalConnector as a non-root user with password sudo, on this machine.

The user exists only inside a private mount namespace: copies of /etc/passwd, group, shadow
and sudoers with one extra user are bind-mounted there, so the machine's own files are never
touched. Python and kubexms are reached through the same namespace (a 0755 tmpfs over /root
with the interpreter bound back in). The scenario runs as that user; this test, as root,
watches ``ps`` and ``/proc/*/environ`` for the sudo password meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import kubexms

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not all(shutil.which(t) for t in ("unshare", "setpriv", "sudo")),
    reason="needs root, unshare, setpriv and sudo",
)

USER = "kxlocaltest"
# The venv's own interpreter (not its target), so the venv's site-packages stay in use.
PYTHON = Path(sys.executable)
SOURCE_ROOT = Path(kubexms.__file__).parents[1]

SCENARIO = textwrap.dedent(
    """
    import asyncio, json, os, sys
    from pathlib import Path
    from kubexms.connector import CommandTimeoutError, LocalConnector, SudoError

    async def main(password: str, work: Path, locked: Path) -> dict[str, object]:
        out: dict[str, object] = {}
        local = LocalConnector("me", sudo_password=password)
        out["uid"] = (await local.run("id -u")).stdout.strip()
        out["sudo_uid"] = (await local.run("id -u; cat", sudo=True, stdin="in")).stdout
        out["slept"] = (await local.run("sleep 3; echo slept", sudo=True)).stdout
        try:
            await local.run(f"echo $$ > {work}/pid; exec sleep 7004", sudo=True, timeout=1)
        except CommandTimeoutError as error:
            out["timeout_killed"] = error.killed
        await local.put(b"conf\\n", f"{locked}/app.conf", mode=0o640, owner="root:root")
        await local.get(f"{locked}/secret", work / "secret")
        out["secret"] = (work / "secret").read_text()
        for label, connector in (
            ("wrong", LocalConnector(sudo_password="not-it")),
            ("missing", LocalConnector()),
        ):
            try:
                await connector.run("true", sudo=True)
            except SudoError as error:
                out[label] = str(error)
        return out

    password = sys.stdin.readline().rstrip("\\n")
    work, locked = Path(sys.argv[1]), Path(sys.argv[2])
    print(json.dumps(asyncio.run(main(password, work, locked))))
    """
)


def _free_uid() -> int:
    taken = {entry.pw_uid for entry in pwd.getpwall()}
    return next(uid for uid in range(60100, 61000) if uid not in taken)


def _password_hash(password: str) -> str:
    done = subprocess.run(
        ["openssl", "passwd", "-6", "-stdin"],
        input=password,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture
def workdir() -> Iterator[Path]:
    # Not pytest's tmp_path: its parents are 0700 root, and the test user must get in.
    path = Path(tempfile.mkdtemp(prefix="kx-local-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _namespace_script(root: Path, uid: int, python: Path) -> str:
    """Bind the user's view into place, then become the user and run the scenario."""
    etc = root / "etc"
    binds = "\n".join(
        f"mount --bind {etc / name} /etc/{name}"
        for name in ("passwd", "group", "shadow", "sudoers")
    )
    # /root is hidden behind a tmpfs (the user must not see root's home), so whatever the
    # interpreter, the virtualenv and the source tree need from under /root is bound back in.
    needed = dict.fromkeys(Path(p) for p in (sys.base_prefix, sys.prefix, SOURCE_ROOT))
    keep = [path for path in needed if path.is_relative_to("/root")]
    stage = "\n".join(
        f"mkdir -p {root}/keep{index}\nmount --bind {path} {root}/keep{index}"
        for index, path in enumerate(keep)
    )
    restore = "\n".join(
        f"mkdir -p {path}\nmount --bind {root}/keep{index} {path}"
        for index, path in enumerate(keep)
    )
    return textwrap.dedent(
        f"""\
        set -e
        {textwrap.indent(stage, " " * 8).lstrip()}
        mount -t tmpfs -o mode=0755 tmpfs /root
        {textwrap.indent(restore, " " * 8).lstrip()}
        {binds}
        exec setpriv --reuid={uid} --regid={uid} --clear-groups -- \\
          env -i HOME={root}/home PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \\
          PYTHONPATH={SOURCE_ROOT} \\
          {python} {root}/scenario.py {root}/work {root}/locked
        """
    )


def _user_view(root: Path, uid: int, password: str) -> None:
    etc = root / "etc"
    etc.mkdir()
    line = f"{USER}:x:{uid}:{uid}::{root}/home:/bin/sh\n"
    (etc / "passwd").write_text(Path("/etc/passwd").read_text() + line)
    (etc / "group").write_text(Path("/etc/group").read_text() + f"{USER}:x:{uid}:\n")
    shadow = f"{USER}:{_password_hash(password)}:20000:0:99999:7:::\n"
    (etc / "shadow").write_text(Path("/etc/shadow").read_text() + shadow)
    (etc / "shadow").chmod(0o640)
    rules = f"\n{USER} ALL=(ALL:ALL) ALL\nDefaults:{USER} timestamp_timeout=0\n"
    (etc / "sudoers").write_text(Path("/etc/sudoers").read_text() + rules)
    (etc / "sudoers").chmod(0o440)
    for name in ("home", "work"):
        (root / name).mkdir()
        os.chown(root / name, uid, uid)
    locked = root / "locked"
    locked.mkdir(mode=0o755)
    (locked / "secret").write_text("root eyes only\n")
    (locked / "secret").chmod(0o600)
    (root / "scenario.py").write_text(SCENARIO)


def _sample(password: str) -> tuple[list[str], bool]:
    """Every process's argv and environment holding ``password``; is a root ``sleep 3`` up?"""
    leaks: list[str] = []
    saw_sleep = False
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            argv = (proc / "cmdline").read_bytes()
            environ = (proc / "environ").read_bytes()
            owner = proc.stat().st_uid
        except OSError:
            continue
        if password.encode() in argv or password.encode() in environ:
            leaks.append(argv.replace(b"\0", b" ").decode(errors="replace"))
        saw_sleep = saw_sleep or (owner == 0 and argv == b"sleep\x003\x00")
    return leaks, saw_sleep


async def _watch(password: str, done: asyncio.Event) -> tuple[list[str], bool]:
    """Sample processes until ``done``."""
    leaks: list[str] = []
    saw_sleep = False
    while not done.is_set():
        found, sleeping = await asyncio.to_thread(_sample, password)
        leaks += found
        saw_sleep = saw_sleep or sleeping
        await asyncio.sleep(0.05)
    return leaks, saw_sleep


def _running(pid: int) -> bool:
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


async def test_non_root_local_connector_with_password_sudo(workdir: Path) -> None:
    uid = _free_uid()
    password = "pw-" + secrets.token_urlsafe(12)
    _user_view(workdir, uid, password)
    script = _namespace_script(workdir, uid, PYTHON)
    process = await asyncio.create_subprocess_exec(
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        script,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    done = asyncio.Event()
    watcher = asyncio.ensure_future(_watch(password, done))
    try:
        out, err = await asyncio.wait_for(process.communicate(f"{password}\n".encode()), 120)
    finally:
        done.set()
        leaks, saw_sleep = await watcher
    assert process.returncode == 0, err.decode()
    result = json.loads(out.decode().strip().splitlines()[-1])

    assert result["uid"] == str(uid)
    assert result["sudo_uid"] == "0\nin"
    assert result["slept"] == "slept\n"
    assert saw_sleep, "the sudo'ed sleep was never seen running as root"
    assert leaks == []
    assert password not in err.decode()

    assert result["timeout_killed"] is True
    assert not _running(int((workdir / "work" / "pid").read_text()))

    conf = (workdir / "locked" / "app.conf").stat()
    assert (conf.st_mode & 0o777, conf.st_uid) == (0o640, 0)
    assert result["secret"] == "root eyes only\n"
    assert "sudo refused" in result["wrong"]
    assert "password is required" in result["missing"]
