"""SSH keys of a fleet: the client key, one host key per host, and the known_hosts file."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import asyncssh

__all__ = ["KeyPair", "generate_key", "known_hosts_text", "write_private_file"]


@dataclass(frozen=True)
class KeyPair:
    """An ed25519 key in OpenSSH formats."""

    private: bytes  # OpenSSH private key file content
    public: str  # "ssh-ed25519 AAAA... comment"


def generate_key(comment: str) -> KeyPair:
    """A fresh ed25519 key pair."""
    key = asyncssh.generate_private_key("ssh-ed25519", comment=comment)
    return KeyPair(
        private=key.export_private_key("openssh"),
        public=key.export_public_key("openssh").decode().strip(),
    )


def write_private_file(path: Path, content: bytes, *, mode: int = 0o600) -> None:
    """Write a file that must never be readable by others, created with its final mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.write(fd, content)
        os.fchmod(fd, mode)
    finally:
        os.close(fd)
    os.replace(temporary, path)


def known_hosts_text(entries: Iterable[tuple[Iterable[str], str]]) -> str:
    """known_hosts lines: each entry is (names and addresses of a host, its public key)."""
    lines = []
    for names, public in entries:
        key_type, key_data = public.split()[:2]
        lines.append(f"{','.join(names)} {key_type} {key_data}")
    return "\n".join(lines) + "\n"
