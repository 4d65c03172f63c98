"""A small in-memory world for engine tests: steps that act only through the Runner, and
hosts (MemoryConnectors) whose answers and failures a test scripts.

A ``ProbeStep`` named ``s`` asks its host ``precheck s`` (the answer ``done`` means already
done) and then ``run s``. The ``World`` answers: a host remembers which steps ran on it, and
``fail`` injects errors (raised ConnectorErrors, or non-zero exits) for chosen commands.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kubexms.config import Cluster
from kubexms.connector import CommandResult, ConnectorError
from kubexms.engine import (
    AllHosts,
    Engine,
    EngineOptions,
    Event,
    EventBus,
    EventKind,
    HostSelector,
    Module,
    Pipeline,
    RetryPolicy,
    Step,
    Task,
)
from kubexms.runner import Change
from kubexms.runtime import ClusterRuntime, Context
from kubexms.testing import Answer, MemoryConnector, cluster_of, memory_runtime

NO_WAIT = RetryPolicy(retries=2, base_delay=0.0, max_delay=0.0)


@dataclass
class Failure:
    """Fail ``times`` calls (forever if None) with ``error`` raised, or exit ``code``."""

    error: ConnectorError | None = None
    code: int = 1
    times: int | None = None


@dataclass
class World:
    applied: dict[str, list[str]] = field(default_factory=dict)  # host -> steps run, in order
    log: list[tuple[str, str]] = field(default_factory=list)  # (host, command)
    fail: dict[tuple[str, str], Failure] = field(default_factory=dict)
    already: set[tuple[str, str]] = field(default_factory=set)  # (host, step) done beforehand

    def answer(self, host: str, command: str, stdin: bytes) -> Answer:
        self.log.append((host, command))
        failure = self.fail.get((host, command))
        if failure is not None and (failure.times is None or failure.times > 0):
            if failure.times is not None:
                failure.times -= 1
            if failure.error is not None:
                raise failure.error
            return CommandResult(command, failure.code, "", "boom", 0.0)
        verb, _, step = command.partition(" ")
        if verb == "precheck":
            done = (host, step) in self.already or step in self.applied.get(host, [])
            return "done" if done else "todo"
        if verb == "run":
            self.applied.setdefault(host, []).append(step)
        return "ok"

    def ran(self, host: str) -> list[str]:
        return self.applied.get(host, [])

    def commands(self, verb: str) -> list[tuple[str, str]]:
        return [(h, c.partition(" ")[2]) for h, c in self.log if c.startswith(verb + " ")]


@dataclass(frozen=True)
class ProbeStep(Step):
    """Asks its host whether it is done, then runs; both through the Runner."""

    name: str
    sleep: float = field(default=0.0, kw_only=True)

    async def precheck(self, ctx: Context) -> bool:
        result = await ctx.runner.must_run(f"precheck {self.name}")
        return result.stdout == "done"

    async def run(self, ctx: Context) -> Change | None:
        if self.sleep:
            await asyncio.sleep(self.sleep)
        result = await ctx.runner.must_run(f"run {self.name}")
        return Change(True, self.name, result.stdout)


def task(
    name: str,
    *steps: str,
    hosts: HostSelector | None = None,
    after: Sequence[str] | None = None,
) -> Task:
    return Task(name, [ProbeStep(step) for step in steps], hosts or AllHosts(), after=after)


@dataclass
class Recorder:
    events: list[Event] = field(default_factory=list)

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def pairs(self, *kinds: EventKind) -> list[tuple[str | None, str | None]]:
        return [(e.node, e.host) for e in self.events if e.kind in kinds]

    def of(self, kind: EventKind) -> list[Event]:
        return [e for e in self.events if e.kind is kind]


@dataclass
class Setup:
    world: World
    runtime: ClusterRuntime
    connectors: dict[str, MemoryConnector]
    recorder: Recorder
    config: Cluster

    def engine(self, *, retry: RetryPolicy = NO_WAIT, **options: Any) -> Engine:
        return Engine(self.runtime, EngineOptions(retry=retry, **options), EventBus(self.recorder))


async def setup(
    hosts: int = 3,
    *,
    world: World | None = None,
    masters: int = 1,
    delay: float = 0.0,
    unreachable: Mapping[str, BaseException] | None = None,
) -> Setup:
    """``delay``: seconds each command takes, so that concurrent pairs really overlap;
    ``unreachable``: hosts that fail to connect, left out of the runtime."""
    world = world or World()
    config = cluster_of(hosts, masters=masters)
    connectors: dict[str, MemoryConnector] = {}
    runtime = await memory_runtime(
        config, world.answer, connectors=connectors, delay=delay, unreachable=unreachable
    )
    return Setup(world, runtime, connectors, Recorder(), config)


def pipeline(*modules: Module, name: str = "p") -> Pipeline:
    return Pipeline(name, modules)
