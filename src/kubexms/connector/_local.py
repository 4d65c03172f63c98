"""LocalConnector: the Connector contract on this machine, over subprocesses."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import time
from collections.abc import Mapping
from pathlib import Path

from kubexms._log import get_logger
from kubexms.connector import _local_files
from kubexms.connector._base import CommandResult, Connector
from kubexms.connector._errors import CommandTimeoutError, FileTransferError
from kubexms.connector._execution import (
    DeadlineExceededError,
    KillTasks,
    decode,
    feed_stdin,
    read_all,
    read_stderr,
    run_with_deadline,
    settle_kills,
    unstarted_error,
)
from kubexms.connector._shell import (
    Elevation,
    PgidMarkerFilter,
    kill_group_command,
    validate_sudo_password,
    wrap_command,
)
from kubexms.connector._transfer_scripts import (
    install_file_script,
    install_tree_script,
    stage_for_get_script,
    validate_mode,
    validate_owner,
    validate_remote_path,
)

_log = get_logger("kubexms.connector")
_KILL_TIMEOUT = 15.0


def _exit_code(returncode: int) -> int:
    # A signal death reads as a negative returncode; report it the way shells do.
    return 128 - returncode if returncode < 0 else returncode


def _stdin_bytes(stdin: str | bytes | None) -> bytes:
    if stdin is None:
        return b""
    return stdin.encode() if isinstance(stdin, str) else stdin


async def _stop_group(pgid: int, grace: float) -> bool:
    """TERM the process group, KILL it if it still runs after ``grace`` seconds; whether it
    is gone (or was already)."""
    try:
        os.killpg(pgid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            os.killpg(pgid, 0)
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return True


class LocalConnector(Connector):
    """Runs commands on this machine through ``/bin/sh -c``, for the control machine and
    all-in-one clusters: the same contract as SSH, without SSH to itself.

    As root, ``sudo=True`` changes nothing; otherwise the whole command runs under one
    ``sudo``, fed ``sudo_password`` on stdin (``sudo -n`` without one).
    """

    def __init__(self, name: str = "localhost", *, sudo_password: str | None = None) -> None:
        if sudo_password is not None:
            validate_sudo_password(sudo_password)
        self.name = name
        self._sudo_password = sudo_password
        self._is_root = os.geteuid() == 0
        self._pending_kills: KillTasks = set()

    def __repr__(self) -> str:
        return f"LocalConnector(name={self.name!r})"

    async def connect(self) -> None:
        """Nothing to open: commands start their own processes."""

    async def close(self) -> None:
        """Wait for kills of cancelled commands; safe to call any number of times."""
        await settle_kills(self._pending_kills, self.stop_grace + _KILL_TIMEOUT)

    def _elevation(self, sudo: bool) -> Elevation | None:
        if not sudo or self._is_root:
            return None
        return Elevation(self._sudo_password)

    async def run(
        self,
        command: str,
        *,
        sudo: bool = False,
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
        stdin: str | bytes | None = None,
        cwd: str | None = None,
    ) -> CommandResult:
        return await self._execute(
            command, sudo=sudo, timeout=timeout, env=env, stdin=stdin, cwd=cwd, killable=True
        )

    async def _execute(
        self,
        command: str,
        *,
        sudo: bool,
        timeout: float | None,
        env: Mapping[str, str] | None,
        stdin: str | bytes | None,
        cwd: str | None,
        killable: bool,
    ) -> CommandResult:
        elevation = self._elevation(sudo)
        wrapped = wrap_command(
            command,
            env=env,
            cwd=cwd,
            elevation=elevation,
            token=secrets.token_hex(16),
            pgid_log=self.process_group_log if killable else None,
        )
        data = wrapped.stdin_prefix + _stdin_bytes(stdin)
        _log.debug("command started", host=self.name, command=command, sudo=sudo)
        started = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            "/bin/sh",
            "-c",
            wrapped.text,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        marker = PgidMarkerFilter(wrapped.pid_marker)

        async def work() -> tuple[bytes, bytes, int]:
            assert process.stdin is not None
            assert process.stdout is not None
            assert process.stderr is not None
            _, out, err = await asyncio.gather(
                feed_stdin(process.stdin, data),
                read_all(process.stdout),
                read_stderr(process.stderr, marker),
            )
            return out, err, _exit_code(await process.wait())

        async def kill(pgid: int | None) -> bool:
            return await self._kill(process, pgid, elevated=elevation is not None)

        try:
            if killable:
                out, err, code = await run_with_deadline(
                    work(),
                    timeout=timeout,
                    marker=marker,
                    kill=kill,
                    pending_kills=self._pending_kills,
                )
            else:
                out, err, code = await asyncio.wait_for(work(), timeout)
        except DeadlineExceededError as exc:
            assert timeout is not None
            _log.warning("command timed out", host=self.name, command=command, killed=exc.killed)
            raise CommandTimeoutError(self.name, command, timeout, killed=exc.killed) from None
        stderr = decode(err)
        if not marker.seen:
            raise unstarted_error(
                self.name, elevated=elevation is not None, exit_code=code, stderr=stderr
            )
        duration = time.monotonic() - started
        _log.debug("command finished", host=self.name, command=command, exit_code=code)
        return CommandResult(command, code, decode(out), stderr, duration)

    async def _kill(
        self, process: asyncio.subprocess.Process, pgid: int | None, *, elevated: bool
    ) -> bool:
        """Kill the command's process group, and our own child's session around it."""
        killed = False
        if pgid is not None and elevated:
            # The group runs as root: only sudo may signal it.
            with contextlib.suppress(Exception):
                result = await self._execute(
                    kill_group_command(pgid, self.stop_grace),
                    sudo=True,
                    timeout=self.stop_grace + _KILL_TIMEOUT,
                    env=None,
                    stdin=None,
                    cwd=None,
                    killable=False,
                )
                killed = result.ok
        elif pgid is not None:
            killed = await _stop_group(pgid, self.stop_grace)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        return killed

    async def put(
        self,
        source: Path | bytes,
        remote_path: str,
        *,
        mode: int | None = None,
        owner: str | None = None,
    ) -> None:
        """Copy ``source`` to ``remote_path`` on this machine, atomically.

        A file or bytes lands by rename with ``mode`` (default: the source file's bits, 0644
        for bytes) and ``owner`` (default: root when elevated, else this user). A directory is
        merged into ``remote_path`` file by file; ``mode`` then applies to the directory itself
        and ``owner`` to everything written.
        """
        validate_remote_path(remote_path)
        if mode is not None:
            validate_mode(mode)
        if owner is not None:
            validate_owner(owner)
        staging = await asyncio.to_thread(_local_files.private_dir, None, "kubexms-put-")
        try:
            try:
                staged, file_mode = await asyncio.to_thread(
                    _local_files.stage_source, source, staging
                )
            except OSError as exc:
                what = "the given bytes" if isinstance(source, bytes) else str(source)
                raise FileTransferError(self.name, f"cannot read {what}: {exc}") from exc
            token = secrets.token_hex(8)
            if file_mode is None:
                script = install_tree_script(
                    str(staged), remote_path, mode=mode, owner=owner, token=token
                )
            else:
                final_mode = mode if mode is not None else file_mode
                script = install_file_script(
                    str(staged), remote_path, mode=final_mode, owner=owner, token=token
                )
            result = await self.run(script, sudo=True)
            if not result.ok:
                raise FileTransferError(
                    self.name, f"could not write {remote_path}: {result.stderr.strip()}"
                )
        finally:
            await asyncio.to_thread(shutil.rmtree, staging, True)

    async def get(self, remote_path: str, local_path: Path) -> None:
        """Copy ``remote_path`` (file or tree, read with sudo when not root) to ``local_path``."""
        validate_remote_path(remote_path)
        local_path = await asyncio.to_thread(local_path.absolute)
        await asyncio.to_thread(local_path.parent.mkdir, parents=True, exist_ok=True)
        staging = await asyncio.to_thread(
            _local_files.private_dir, local_path.parent, f".{local_path.name}.kubexms-"
        )
        try:
            staged = staging / "fetched"
            chown_to = None if self._is_root else f"{os.getuid()}:{os.getgid()}"
            script = stage_for_get_script(remote_path, str(staged), chown_to=chown_to)
            result = await self.run(script, sudo=True)
            if not result.ok:
                raise FileTransferError(
                    self.name, f"could not read {remote_path}: {result.stderr.strip()}"
                )
            try:
                await asyncio.to_thread(_local_files.place, staged, local_path)
            except OSError as exc:
                raise FileTransferError(self.name, f"could not write {local_path}: {exc}") from exc
        finally:
            await asyncio.to_thread(shutil.rmtree, staging, True)
