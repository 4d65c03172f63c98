"""In-memory and local-shell connectors for unit tests of the Runner.

``ShellConnector`` runs the Runner's scripts with this machine's ``/bin/sh`` — tests point
them only at paths under ``tmp_path``. ``ScriptedConnector`` runs nothing: it records each
command and answers from a handler, for operations whose real effect (packages, systemd,
kernel) must never touch this machine.
"""

# ruff: noqa: ASYNC240 - tests look at local files directly, blocking is fine here

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kubexms.connector import CommandResult, Connector


@dataclass
class Call:
    command: str
    sudo: bool
    stdin: bytes


class ShellConnector(Connector):
    """Runs commands locally through /bin/sh (sudo is recorded, not used)."""

    def __init__(self, name: str = "shell") -> None:
        self.name = name
        self.calls: list[Call] = []
        self.puts: list[tuple[Path | bytes, str]] = []

    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        return None

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
        data = stdin.encode() if isinstance(stdin, str) else (stdin or b"")
        self.calls.append(Call(command, sudo, data))
        started = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            "/bin/sh",
            "-c",
            command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=cwd,
        )
        out, err = await asyncio.wait_for(process.communicate(data), timeout)
        code = process.returncode
        assert code is not None
        return CommandResult(
            command,
            code,
            out.decode(errors="replace"),
            err.decode(errors="replace"),
            time.monotonic() - started,
        )

    async def put(
        self,
        source: Path | bytes,
        remote_path: str,
        *,
        mode: int | None = None,
        owner: str | None = None,
    ) -> None:
        self.puts.append((source, remote_path))
        target = Path(remote_path)
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(source, bytes):
            target.write_bytes(source)
            target.chmod(mode if mode is not None else 0o644)
        elif source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
            if mode is not None:
                target.chmod(mode)
        else:
            shutil.copy2(source, target)
            if mode is not None:
                target.chmod(mode)
        if owner is not None:
            user, _, group = owner.partition(":")
            shutil.chown(target, user, group or None)

    async def get(self, remote_path: str, local_path: Path) -> None:
        source = Path(remote_path)
        if source.is_dir():
            shutil.copytree(source, local_path, dirs_exist_ok=True)
        else:
            local_path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, local_path)


Handler = Callable[[Call], tuple[int, str] | str]


@dataclass
class ScriptedConnector(Connector):
    """Runs nothing: records commands and answers from ``handler`` (exit code, stdout)."""

    handler: Handler = field(default=lambda call: "")
    name: str = "scripted"
    calls: list[Call] = field(default_factory=list)
    puts: list[tuple[Path | bytes, str]] = field(default_factory=list)

    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        return None

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
        data = stdin.encode() if isinstance(stdin, str) else (stdin or b"")
        call = Call(command, sudo, data)
        self.calls.append(call)
        answer = self.handler(call)
        code, out = (0, answer) if isinstance(answer, str) else answer
        return CommandResult(command, code, out, "", 0.0)

    async def put(
        self,
        source: Path | bytes,
        remote_path: str,
        *,
        mode: int | None = None,
        owner: str | None = None,
    ) -> None:
        self.puts.append((source, remote_path))

    async def get(self, remote_path: str, local_path: Path) -> None:
        raise AssertionError("ScriptedConnector cannot get files")
