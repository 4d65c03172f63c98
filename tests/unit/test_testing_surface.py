"""kubexms.testing is the one public surface for running kubexms without machines, and the
control machine's host comes from the Runtime like every other host."""

from __future__ import annotations

import importlib

import pytest

import kubexms.connector
import kubexms.testing
from kubexms.engine import CONTROL_HOST, Engine
from kubexms.testing import MemoryConnector, cluster_of, memory_runtime


def test_the_testing_surface_is_pinned() -> None:
    assert kubexms.testing.__all__ == [
        "Answer",
        "Handler",
        "MemoryConnector",
        "cluster_of",
        "memory_runtime",
    ]


def test_there_is_no_second_testing_surface() -> None:
    assert "MemoryConnector" not in kubexms.connector.__all__
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("kubexms.engine.testing")


async def test_memory_hosts_answer_from_the_handler() -> None:
    connectors: dict[str, MemoryConnector] = {}
    async with await memory_runtime(
        cluster_of(2), lambda host, command, stdin: f"{host} ran {command}", connectors=connectors
    ) as runtime:
        result = await runtime.host("node2").runner.run("uname")
        assert connectors["node2"].connected
    assert result.stdout == "node2 ran uname"
    assert not connectors["node2"].connected


async def test_the_control_host_comes_from_the_runtime() -> None:
    async with await memory_runtime(cluster_of(1)) as runtime:
        control = Engine(runtime).host(CONTROL_HOST)
        assert control is runtime.control_host(CONTROL_HOST)
        assert control.runner.sudo is False
        assert (await control.runner.run("echo here")).stdout == "here\n"
