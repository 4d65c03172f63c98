"""Scripted hosts for hostprep and preflight unit tests.

A ``Script`` answers each command from rules (first matching substring wins) and records
what it was asked; host facts come from ``facts`` (a Debian 12 amd64 systemd host unless
changed). Steps then run through a real Runner over a MemoryConnector.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from kubexms.config import Cluster
from kubexms.runtime import ClusterRuntime, Context
from kubexms.testing import Answer, cluster_of, memory_runtime

DEBIAN = {
    "os_id": "debian",
    "os_version": "12",
    "os_name": "Debian GNU/Linux 12 (bookworm)",
    "kernel": "6.1.0-18-amd64",
    "machine": "x86_64",
    "hostname": "node1",
    "cpus": "4",
    "memory_kib": str(8 * 1024 * 1024),
    "init": "systemd",
    "package_manager": "apt-get",
    "default_ipv4": "10.213.0.11",
}

Rule = tuple[str, Answer | Callable[[str, bytes], Answer]]


@dataclass
class Script:
    rules: list[Rule] = field(default_factory=list)
    facts: dict[str, str] = field(default_factory=lambda: dict(DEBIAN))
    commands: list[str] = field(default_factory=list)

    def on(self, needle: str, answer: Answer | Callable[[str, bytes], Answer]) -> Script:
        self.rules.append((needle, answer))
        return self

    def __call__(self, host: str, command: str, stdin: bytes) -> Answer:
        self.commands.append(command)
        if 'echo "package_manager=$pm"' in command:
            return "".join(f"{key}={value}\n" for key, value in self.facts.items())
        for needle, answer in self.rules:
            if needle in command:
                return answer(command, stdin) if callable(answer) else answer
        raise AssertionError(f"unscripted command: {command[:300]}")

    def ran(self, needle: str) -> list[str]:
        return [command for command in self.commands if needle in command]


async def scripted_context(
    script: Script, *, config: Cluster | None = None, host: int = 0
) -> tuple[ClusterRuntime, Context]:
    runtime = await memory_runtime(config or cluster_of(3), script)
    return runtime, runtime.new_context(runtime.hosts[host])
