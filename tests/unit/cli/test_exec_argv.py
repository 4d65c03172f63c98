"""`kubexms exec`'s arguments read without typer give what typer gives, or are left to typer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from typer.testing import CliRunner

import kubexms.cli._exec
from kubexms.cli import app
from kubexms.cli._exec_argv import parse_exec_argv
from kubexms.cli._exec_run import ExecOutput, ExecRequest


@pytest.fixture(autouse=True)
def _logging_put_back() -> Iterator[None]:
    yield
    structlog.reset_defaults()  # the root callback points structlog at CliRunner's stderr


def _typer_request(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> ExecRequest | None:
    """The request typer builds from ``kubexms exec ARGV``; None when typer refuses it."""
    seen: list[ExecRequest] = []

    def capture(request: ExecRequest) -> int:
        seen.append(request)
        return 0

    monkeypatch.setattr(kubexms.cli._exec, "run_exec", capture)
    result = CliRunner().invoke(app, ["exec", *argv])
    if result.exit_code != 0:
        return None
    assert len(seen) == 1
    return seen[0]


PLAIN = [
    ["--", "uname", "-a"],
    ["--", "systemctl status x | head"],
    ["-f", "c.yaml", "--", "true"],
    ["--file", "dir/c.yaml", "--role", "master", "--", "sh", "-c", "a; b"],
    ["--file=c.yaml", "--hosts=a,b", "--sudo", "--", "id"],
    ["--concurrency", "7", "--timeout", "2.5", "-o", "json", "--", "x", "--", "y"],
    ["--output=text", "--timeout=0.1", "--concurrency=1", "--", "-x"],
    ["--hosts", "node01", "--role", "worker", "--sudo", "--", ""],
]


@pytest.mark.parametrize("argv", PLAIN, ids=" ".join)
def test_plain_arguments_give_what_typer_gives(
    argv: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ours = parse_exec_argv(argv)
    assert ours is not None
    assert ours == _typer_request(argv, monkeypatch)


def test_the_fields_read() -> None:
    request = parse_exec_argv(
        ["-f", "c.yaml", "--concurrency", "3", "--timeout", "1", "-o", "json", "--", "a", "b"]
    )
    assert request == ExecRequest(
        command=("a", "b"),
        file=Path("c.yaml"),
        concurrency=3,
        timeout=1.0,
        output=ExecOutput.json,
    )


LEFT_TO_TYPER = [
    [],
    ["--"],  # no command: typer says the argument is missing
    ["uname"],  # no --
    ["--help"],
    ["-h"],
    ["--sudo", "--sudo", "--", "x"],  # twice
    ["-f", "a", "-f", "b", "--", "x"],
    ["-fc.yaml", "--", "x"],
    ["-f=c.yaml", "--", "x"],
    ["--file", "--", "x"],
    ["--file"],
    ["--file=", "--", "x"],
    ["--role", "-x", "--", "y"],
    ["--concurrency", "0", "--", "x"],
    ["--concurrency", "05", "--", "x"],
    ["--concurrency", "two", "--", "x"],
    ["--timeout", "0.05", "--", "x"],
    ["--timeout", "inf", "--", "x"],
    ["--timeout", "1e3", "--", "x"],
    ["-o", "yaml", "--", "x"],
    ["-o", "JSON", "--", "x"],
    ["--sudo=true", "--", "x"],
    ["--unknown", "--", "x"],
    ["--log-level", "debug", "--", "x"],
]


@pytest.mark.parametrize("argv", LEFT_TO_TYPER, ids=lambda argv: " ".join(argv) or "(none)")
def test_anything_else_is_left_to_typer(argv: list[str]) -> None:
    assert parse_exec_argv(argv) is None


@pytest.mark.parametrize(
    "argv",
    [["--"], ["--concurrency", "0", "--", "x"], ["-o", "yaml", "--", "x"], ["-fc", "--"]],
    ids=" ".join,
)
def test_typer_refuses_what_the_reader_would_never_accept(
    argv: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _typer_request(argv, monkeypatch) is None
