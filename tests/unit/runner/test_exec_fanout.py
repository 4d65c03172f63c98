"""`kubexms exec` fan-out: per-host outcomes in config order, failures kept, outputs folded."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console

from kubexms.cli._exec import (
    HostOutcome,
    command_line,
    fan_out,
    group_outcomes,
    render_json,
    render_text,
    select_hosts,
)
from kubexms.config import Cluster, ResolvedHost, parse_config
from kubexms.connector import (
    CommandResult,
    Connector,
    ConnectTimeoutError,
    HostConnectionError,
    SudoError,
)
from tests.unit.runner.fakes import Call, ScriptedConnector

CLUSTER = """
apiVersion: kubexms.io/v1alpha1
kind: Cluster
metadata: {name: t}
spec:
  hosts:
  - {name: a1, address: 192.0.2.1, password: x}
  - {name: a2, address: 192.0.2.2, password: x}
  - {name: b1, address: 192.0.2.3, password: x}
  - {name: b2, address: 192.0.2.4, password: x}
  roleGroups:
    master: [a1]
    etcd: [a1]
    worker: [a2, b1, b2]
"""


@pytest.fixture
def cluster() -> Cluster:
    return parse_config(CLUSTER)


class Unreachable(ScriptedConnector):
    async def connect(self) -> None:
        raise HostConnectionError(self.name, "connection refused")


def test_select_hosts_by_role_and_name(cluster: Cluster) -> None:
    assert [h.name for h in select_hosts(cluster, role="worker", names=None)] == ["a2", "b1", "b2"]
    assert [h.name for h in select_hosts(cluster, role=None, names=["b2", "a1"])] == ["a1", "b2"]
    with pytest.raises(ValueError, match="nosuch"):
        select_hosts(cluster, role=None, names=["nosuch"])
    with pytest.raises(ValueError, match="role 'loadbalancer'"):
        select_hosts(cluster, role="loadbalancer", names=None)


async def test_fan_out_keeps_order_and_reports_unreachable_hosts(cluster: Cluster) -> None:
    made: list[Connector] = []

    def factory(host: ResolvedHost) -> Connector:
        def answer(call: Call) -> tuple[int, str]:
            return (0, "same\n") if host.name != "b1" else (3, "different\n")

        connector: Connector = (
            Unreachable(answer, name=host.name)
            if host.name == "a2"
            else ScriptedConnector(answer, name=host.name)
        )
        made.append(connector)
        return connector

    finished: list[str] = []
    outcomes = await fan_out(
        cluster,
        cluster.resolved_hosts(),
        "uname -a",
        sudo=True,
        concurrency=2,
        connector_factory=factory,
        on_done=lambda outcome: finished.append(outcome.host),
    )
    assert [o.host for o in outcomes] == ["a1", "a2", "b1", "b2"]
    assert sorted(finished) == ["a1", "a2", "b1", "b2"]
    assert outcomes[1].error == "connection refused"
    assert [o.ok for o in outcomes] == [True, False, False, True]
    calls = [c for m in made if isinstance(m, ScriptedConnector) for c in m.calls]
    assert {c.command for c in calls} == {"uname -a"}
    assert all(c.sudo for c in calls)
    groups = group_outcomes(outcomes)
    assert [names for names, _ in groups] == [["a1", "b2"], ["a2"], ["b1"]]
    data = json.loads(render_json(outcomes))
    assert data["failed"] == ["a2", "b1"]
    assert data["hosts"]["b1"]["exit_code"] == 3
    assert data["hosts"]["a2"]["error"] == "connection refused"


async def test_fan_out_respects_the_concurrency_limit(cluster: Cluster) -> None:
    running = 0
    peak = 0

    class Slow(ScriptedConnector):
        async def run(self, command: str, **kwargs: object) -> object:  # type: ignore[override]
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.05)
            running -= 1
            return await super().run(command)

    await fan_out(
        cluster,
        cluster.resolved_hosts(),
        "true",
        concurrency=2,
        connector_factory=lambda host: Slow(name=host.name),
    )
    assert peak == 2


def test_identical_outputs_fold_but_exit_codes_split() -> None:
    outcomes = [
        HostOutcome("x", 0, "out", "", 0.1),
        HostOutcome("y", 1, "out", "", 0.1),
        HostOutcome("z", 0, "out", "", 0.2),
    ]
    assert [names for names, _ in group_outcomes(outcomes)] == [["x", "z"], ["y"]]


def test_several_words_are_one_argv_and_one_word_is_a_shell_line() -> None:
    assert command_line(["sh", "-c", "echo a; echo b"]) == "sh -c 'echo a; echo b'"
    assert command_line(["ls", "*.txt"]) == "ls '*.txt'"
    assert command_line(["echo a; echo b | tr a-z A-Z"]) == "echo a; echo b | tr a-z A-Z"


def test_exec_runs_what_was_typed() -> None:
    # No -f: this machine, through the local connector; read-only.
    done = subprocess.run(
        [sys.executable, "-m", "kubexms", "exec", "-o", "json", "--", "sh", "-c", "echo a; echo b"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["hosts"]["localhost"]["stdout"] == "a\nb\n"


def test_role_and_hosts_together_select_hosts_matching_both(cluster: Cluster) -> None:
    chosen = select_hosts(cluster, role="worker", names=["a1", "a2", "b2"])
    assert [h.name for h in chosen] == ["a2", "b2"]
    with pytest.raises(ValueError, match=r"none of the hosts a1 has the role 'worker'"):
        select_hosts(cluster, role="worker", names=["a1"])
    with pytest.raises(ValueError, match=r"unknown role 'wroker'"):
        select_hosts(cluster, role="wroker", names=None)


async def test_only_the_selected_hosts_are_connected_to(cluster: Cluster) -> None:
    built: list[str] = []

    def factory(host: ResolvedHost) -> Connector:
        built.append(host.name)
        return ScriptedConnector(name=host.name)

    chosen = select_hosts(cluster, role=None, names=["b1"])
    outcomes = await fan_out(cluster, chosen, "true", connector_factory=factory)
    assert built == ["b1"]
    assert [o.host for o in outcomes] == ["b1"]


async def test_failures_are_labelled_by_what_happened(cluster: Cluster) -> None:
    class SudoRefused(ScriptedConnector):
        async def run(self, command: str, **kwargs: object) -> CommandResult:
            raise SudoError(self.name, "sudo refused to run the command: incorrect password")

    class Slow(ScriptedConnector):
        async def connect(self) -> None:
            raise ConnectTimeoutError(self.name, "connecting to 192.0.2.3:22 timed out after 5s.")

    def factory(host: ResolvedHost) -> Connector:
        kinds = {"a1": Unreachable, "a2": SudoRefused, "b1": Slow}
        return kinds.get(host.name, ScriptedConnector)(name=host.name)

    outcomes = await fan_out(cluster, cluster.resolved_hosts(), "id", connector_factory=factory)
    labels = {o.host: o.label for o in outcomes}
    assert labels == {"a1": "unreachable", "a2": "sudo refused", "b1": "timed out", "b2": None}
    out = io.StringIO()
    render_text(outcomes, Console(file=out, width=200, color_system=None))
    text = out.getvalue()
    assert "==> a1: unreachable" in text
    assert "==> a2: sudo refused" in text
    assert "==> b1: timed out" in text
    assert json.loads(render_json(outcomes))["hosts"]["a2"]["label"] == "sudo refused"


async def test_every_host_unreachable_is_still_one_row_each(cluster: Cluster) -> None:
    outcomes = await fan_out(
        cluster,
        cluster.resolved_hosts(),
        "true",
        connector_factory=lambda host: Unreachable(name=host.name),
    )
    assert [(o.host, o.label) for o in outcomes] == [
        (name, "unreachable") for name in ("a1", "a2", "b1", "b2")
    ]


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_signal_stops_exec_and_the_command_it_started(
    tmp_path: Path, signum: int, code: int
) -> None:
    # No -f: this machine, through the local connector. The command leaves its pid behind.
    pid_file = tmp_path / "pid"
    process = subprocess.Popen(
        [sys.executable, "-m", "kubexms", "exec", "--", f"echo $$ > {pid_file}; exec sleep 300"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not pid_file.exists() or not pid_file.read_text().strip():
            assert time.monotonic() < deadline, "the command never started"
            assert process.poll() is None, process.communicate()
            time.sleep(0.05)
        pid = int(pid_file.read_text())
        process.send_signal(signum)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == code, err
    assert signal.Signals(signum).name in err
    deadline = time.monotonic() + 10
    while _alive(pid):
        assert time.monotonic() < deadline, f"the command (pid {pid}) still runs"
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
