"""known_hosts, parsed once per run and appended to safely under concurrency."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import ipaddress
import os
from pathlib import Path

import asyncssh

from kubexms._errors import KubexmsError

DEFAULT_PORT = 22


class HostKeyConflictError(KubexmsError):
    """known_hosts already holds a different key for the host."""


def host_pattern(host: str, port: int) -> str:
    """How OpenSSH names a host in known_hosts: ``host`` on port 22, else ``[host]:port``."""
    return host if port == DEFAULT_PORT else f"[{host}]:{port}"


def _addr(host: str) -> str:
    with contextlib.suppress(ValueError):
        return str(ipaddress.ip_address(host))
    return ""


class KnownHostsStore:
    """One known_hosts file: read once, consulted by every connection, appended to by
    ``accept-new``. Appends take an exclusive ``flock`` and re-read the file first, so two
    kubexms processes recording the same host never write conflicting or duplicate lines.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._known: asyncssh.SSHKnownHosts | None = None
        self._load_lock = asyncio.Lock()
        self._append_lock = asyncio.Lock()

    async def known_hosts(self) -> asyncssh.SSHKnownHosts:
        """The parsed file, loaded on first use; later ``record`` calls add to it in place."""
        if self._known is None:
            async with self._load_lock:
                if self._known is None:
                    text = await asyncio.to_thread(self._read)
                    self._known = asyncssh.SSHKnownHosts(text)
        return self._known

    def _read(self) -> str:
        try:
            return self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def keys_for(self, host: str, port: int) -> list[asyncssh.SSHKey]:
        """Host keys known for ``host``:``port`` (after ``known_hosts()`` has loaded)."""
        if self._known is None:
            return []
        return _match(self._known, host, port)

    async def record(self, host: str, port: int, key: asyncssh.SSHKey) -> None:
        """Append ``key`` for ``host``:``port`` unless present; raise HostKeyConflictError if the
        file meanwhile holds a different key for it."""
        known = await self.known_hosts()
        async with self._append_lock:
            line = await asyncio.to_thread(self._append, host, port, key)
            if line:
                known.load(line)

    def _append(self, host: str, port: int, key: asyncssh.SSHKey) -> str:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            current = _read_fd(fd)
            present = _match(asyncssh.SSHKnownHosts(current), host, port)
            if any(known.public_data == key.public_data for known in present):
                return ""
            if present:
                raise HostKeyConflictError(host_pattern(host, port))
            public = key.export_public_key("openssh").decode().split()
            line = f"{host_pattern(host, port)} {public[0]} {public[1]}\n"
            data = ("\n" if current and not current.endswith("\n") else "") + line
            os.write(fd, data.encode())
            os.fsync(fd)
            return line
        finally:
            os.close(fd)  # also drops the flock


def _match(known: asyncssh.SSHKnownHosts, host: str, port: int) -> list[asyncssh.SSHKey]:
    keys, *_ = known.match(host, _addr(host), None if port == DEFAULT_PORT else port)
    # An IP address given as host matches the same entry as host and as address: dedupe.
    unique = {key.public_data: key for key in keys}
    return list(unique.values())


def _read_fd(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks: list[bytes] = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", errors="replace")
