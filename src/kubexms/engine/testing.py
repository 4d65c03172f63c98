"""Run pipelines without machines: in-memory hosts for unit tests and benchmarks.

``MemoryConnector`` answers each command from a handler (default: exit 0, no output) and
records what it was asked; ``memory_runtime`` builds a ClusterRuntime of such hosts from a
cluster file; ``cluster_of`` makes a cluster file of any size without YAML.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from kubexms.config import Cluster, ResolvedHost
from kubexms.connector import CommandResult, Connector, FileTransferError
from kubexms.runtime import ClusterRuntime, new_runtime

Answer = CommandResult | tuple[int, str] | str
"""What a handler returns: a whole result, (exit code, stdout), or stdout (exit 0)."""
Handler = Callable[[str, str, bytes], Answer]
"""handler(host name, command, stdin) -> Answer; raising a ConnectorError simulates failure."""


def _ok(host: str, command: str, stdin: bytes) -> Answer:
    return ""


class MemoryConnector(Connector):
    """A host that lives in memory. ``delay`` seconds pass (asynchronously) per command."""

    def __init__(self, name: str, handler: Handler | None = None, *, delay: float = 0.0) -> None:
        self.name = name
        self.handler = handler or _ok
        self.delay = delay
        self.commands: list[str] = []
        self.files: dict[str, bytes] = {}
        self.connected = False

    async def connect(self) -> None:
        self.connected = True

    async def close(self) -> None:
        self.connected = False

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
        self.commands.append(command)
        data = stdin.encode() if isinstance(stdin, str) else (stdin or b"")
        started = time.monotonic()
        if self.delay:
            await asyncio.sleep(self.delay)
        answer = self.handler(self.name, command, data)
        if isinstance(answer, CommandResult):
            return answer
        code, out = (0, answer) if isinstance(answer, str) else answer
        return CommandResult(command, code, out, "", time.monotonic() - started)

    async def put(
        self,
        source: Path | bytes,
        remote_path: str,
        *,
        mode: int | None = None,
        owner: str | None = None,
    ) -> None:
        if isinstance(source, bytes):
            self.files[remote_path] = source
        else:
            self.files[remote_path] = await asyncio.to_thread(source.read_bytes)

    async def get(self, remote_path: str, local_path: Path) -> None:
        if remote_path not in self.files:
            raise FileTransferError(self.name, f"no such file: {remote_path}")
        await asyncio.to_thread(local_path.write_bytes, self.files[remote_path])


def cluster_of(
    hosts: int,
    *,
    name: str = "memory",
    masters: int = 1,
    extra_spec: Mapping[str, Any] | None = None,
    work_dir: Path | None = None,
) -> Cluster:
    """A valid cluster of ``hosts`` hosts named ``node1``... (the first ``masters`` are
    masters and etcd, the rest workers), on addresses nothing ever connects to."""
    names = [f"node{index}" for index in range(1, hosts + 1)]
    spec: dict[str, Any] = {
        "hosts": [
            {"name": host, "address": f"10.213.{index // 250}.{index % 250 + 1}"}
            for index, host in enumerate(names)
        ],
        "roleGroups": {
            "master": names[:masters],
            "etcd": names[:masters],
            "worker": names[masters:] or names[:1],
        },
        "global": {},
    }
    if masters > 1:
        spec["controlPlaneEndpoint"] = {"domain": "lb.memory.local", "address": "10.213.255.1"}
    if work_dir is not None:
        spec["global"]["workDir"] = str(work_dir)
    spec.update(extra_spec or {})
    return Cluster.model_validate(
        {
            "apiVersion": "kubexms.io/v1alpha1",
            "kind": "Cluster",
            "metadata": {"name": name},
            "spec": spec,
        }
    )


async def memory_runtime(
    config: Cluster,
    handler: Handler | None = None,
    *,
    delay: float = 0.0,
    connectors: dict[str, MemoryConnector] | None = None,
) -> ClusterRuntime:
    """A ClusterRuntime whose hosts are MemoryConnectors (also put in ``connectors`` by name)."""

    def build(spec: ResolvedHost) -> Connector:
        connector = MemoryConnector(spec.name, handler, delay=delay)
        if connectors is not None:
            connectors[spec.name] = connector
        return connector

    return await new_runtime(config, connector_factory=build)
