"""put and get over SFTP for the SSH connector.

Data streams through asyncssh's SFTP copier (bounded block size and requests in flight), so a
large file never sits in memory. Files land as described in ``_transfer_scripts``.
"""

from __future__ import annotations

import asyncio
import contextlib
import posixpath
import secrets
import shutil
from collections.abc import Awaitable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import asyncssh

from kubexms.connector import _local_files
from kubexms.connector._errors import FileTransferError, HostConnectionError
from kubexms.connector._ssh_errors import CONNECTION_FAILURES, sftp_error
from kubexms.connector._transfer_scripts import (
    install_file_script,
    install_tree_script,
    stage_for_get_script,
    temp_sibling,
    validate_mode,
    validate_owner,
    validate_remote_path,
)

if TYPE_CHECKING:
    from kubexms.connector._ssh import SSHConnector

_T = TypeVar("_T")
_PRIVATE_FILE = asyncssh.SFTPAttrs(permissions=0o600)
_PRIVATE_DIR = asyncssh.SFTPAttrs(permissions=0o700)
_FAILURES: tuple[type[BaseException], ...] = (asyncssh.SFTPError, *CONNECTION_FAILURES)


class SFTPTransfer:
    """The SFTP session of one SSHConnector, opened on first use."""

    def __init__(self, connector: SSHConnector) -> None:
        self._connector = connector
        self._sftp: asyncssh.SFTPClient | None = None
        self._sftp_conn: asyncssh.SSHClientConnection | None = None
        self._lock = asyncio.Lock()

    @property
    def _name(self) -> str:
        return self._connector.name

    async def forget(self) -> None:
        """Drop the SFTP session (the connection is closing)."""
        sftp, self._sftp, self._sftp_conn = self._sftp, None, None
        if sftp is not None:
            sftp.exit()

    async def _client(self) -> asyncssh.SFTPClient:
        conn = await self._connector.connection()
        async with self._lock:
            if self._sftp is None or self._sftp_conn is not conn:
                self._sftp = await self._guard("start SFTP", conn.start_sftp_client())
                self._sftp_conn = conn
            return self._sftp

    async def _guard(self, action: str, operation: Awaitable[_T]) -> _T:
        try:
            return await operation
        except _FAILURES as exc:
            error = sftp_error(self._name, action, exc, self._connector.endpoint.label)
            if isinstance(error, HostConnectionError):
                self._connector.note_lost(error)
            raise error from None

    async def _script(self, script: str, action: str) -> None:
        """Run a transfer script elevated (a no-op elevation for root)."""
        result = await self._connector.run(script, sudo=True)
        if not result.ok:
            lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
            detail = " ".join(lines[-3:]) or f"exit code {result.exit_code}"
            raise FileTransferError(self._name, f"could not {action}: {detail}")

    async def _staging(self, sftp: asyncssh.SFTPClient, token: str) -> str:
        """A fresh 0700 directory in /tmp that only the login user can enter."""
        path = f"/tmp/.kubexms-{token}"
        await self._guard(f"create {path}", sftp.mkdir(path, _PRIVATE_DIR))
        return path

    async def _upload(self, sftp: asyncssh.SFTPClient, source: Path | bytes, remote: str) -> None:
        """Write ``source`` to ``remote``, created 0600 before any byte of data arrives."""
        action = f"upload to {remote}"
        file = await self._guard(action, sftp.open(remote, "wb", _PRIVATE_FILE))
        try:
            if isinstance(source, bytes):
                await self._guard(action, file.write(source))
        finally:
            await file.close()
        if isinstance(source, Path):
            # Into the existing 0600 file: opening it again truncates but keeps the mode.
            await self._guard(action, sftp.put(str(source), remote, follow_symlinks=True))

    async def put(
        self, source: Path | bytes, remote_path: str, *, mode: int | None, owner: str | None
    ) -> None:
        validate_remote_path(remote_path)
        if mode is not None:
            validate_mode(mode)
        if owner is not None:
            validate_owner(owner)
        kind = await asyncio.to_thread(_local_files.source_kind, source)
        if kind is None:
            raise FileTransferError(self._name, f"local source {source!s} does not exist")
        is_tree = kind == "tree"
        file_mode = (
            mode if mode is not None else await asyncio.to_thread(_local_files.source_mode, source)
        )
        sftp = await self._client()
        token = secrets.token_hex(8)
        if not is_tree and self._connector.is_root:
            assert file_mode is not None
            await self._put_in_place(sftp, source, remote_path, file_mode, owner, token)
            return
        staging = await self._staging(sftp, token)
        try:
            if is_tree:
                staged = f"{staging}/tree"
                await self._guard(
                    f"upload {source!s}",
                    sftp.put(
                        str(source), staged, recurse=True, preserve=True, follow_symlinks=True
                    ),
                )
                script = install_tree_script(
                    staged, remote_path, mode=mode, owner=owner, token=token, cleanup=staging
                )
            else:
                assert file_mode is not None
                staged = f"{staging}/data"
                await self._upload(sftp, source, staged)
                script = install_file_script(
                    staged, remote_path, mode=file_mode, owner=owner, token=token, cleanup=staging
                )
            await self._script(script, f"write {remote_path}")
        except BaseException:
            with contextlib.suppress(Exception):
                await sftp.rmtree(staging, ignore_errors=True)
            raise

    async def _put_in_place(
        self,
        sftp: asyncssh.SFTPClient,
        source: Path | bytes,
        remote_path: str,
        mode: int,
        owner: str | None,
        token: str,
    ) -> None:
        """As root: upload next to the target, then chmod/chown/rename in one command."""
        tmp = temp_sibling(remote_path, token)
        try:
            try:
                await self._upload(sftp, source, tmp)
            except FileTransferError:
                parent = posixpath.dirname(tmp)
                if await self._guard(f"inspect {parent}", sftp.isdir(parent)):
                    raise
                await self._guard(f"create {parent}", sftp.makedirs(parent, exist_ok=True))
                await self._upload(sftp, source, tmp)
            script = install_file_script(tmp, remote_path, mode=mode, owner=owner, token=token)
            await self._script(script, f"write {remote_path}")
        except BaseException:
            with contextlib.suppress(Exception):
                await sftp.remove(tmp)
            raise

    async def get(self, remote_path: str, local_path: Path) -> None:
        validate_remote_path(remote_path)
        try:
            local_path = await asyncio.to_thread(local_path.absolute)
            await asyncio.to_thread(local_path.parent.mkdir, parents=True, exist_ok=True)
            local_staging = await asyncio.to_thread(
                _local_files.private_dir, local_path.parent, f".{local_path.name}.kubexms-"
            )
        except OSError as exc:
            raise FileTransferError(self._name, f"cannot write under {local_path}: {exc}") from exc
        sftp = await self._client()
        remote_staging: str | None = None
        try:
            source = remote_path
            if not self._connector.is_root:
                remote_staging = await self._staging(sftp, secrets.token_hex(8))
                source = f"{remote_staging}/fetched"
                script = stage_for_get_script(
                    remote_path, source, chown_to=self._connector.endpoint.user
                )
                await self._script(script, f"read {remote_path}")
            fetched = local_staging / "fetched"
            await self._guard(
                f"read {remote_path}",
                sftp.get(source, str(fetched), recurse=True, preserve=True, follow_symlinks=True),
            )
            try:
                await asyncio.to_thread(_local_files.place, fetched, local_path)
            except OSError as exc:
                raise FileTransferError(self._name, f"could not write {local_path}: {exc}") from exc
        finally:
            await asyncio.to_thread(shutil.rmtree, local_staging, True)
            if remote_staging is not None:
                with contextlib.suppress(Exception):
                    await sftp.rmtree(remote_staging, ignore_errors=True)
