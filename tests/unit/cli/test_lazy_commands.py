"""The command line starts fast: nothing heavy on import, commands built only when used."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
import structlog
import typer.main
from typer.core import TyperGroup
from typer.testing import CliRunner

from kubexms.cli import COMMANDS, app


@pytest.fixture(autouse=True)
def _logging_put_back() -> Iterator[None]:
    # The root callback points structlog at CliRunner's stderr, closed after the test.
    yield
    structlog.reset_defaults()


HEAVY = ("asyncssh", "pydantic", "jinja2", "cryptography", "kubexms.config", "typer", "rich")


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=False,
    )


def _loaded_after(code: str) -> list[str]:
    done = _run(
        "-c",
        f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))",
    )
    assert done.returncode == 0, done.stderr
    modules: list[str] = json.loads(done.stdout.splitlines()[-1])
    return modules


def _heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]


def test_importing_the_cli_loads_nothing_heavy() -> None:
    assert _heavy(_loaded_after("import kubexms.cli")) == []


def test_root_help_loads_no_command_module_nor_typer() -> None:
    code = (
        "import sys; sys.argv = ['kubexms', '--help']\n"
        "import contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    from kubexms.cli import main; main()"
    )
    modules = _loaded_after(code)
    assert [m for m in _heavy(modules) if not m.startswith("rich")] == []
    assert [
        m for m in modules if m.startswith("kubexms.cli._") and m != "kubexms.cli._commands"
    ] == ["kubexms.cli._root_help"]


def test_a_command_loads_only_its_own_module() -> None:
    code = (
        "import sys; sys.argv = ['kubexms', 'sandbox', '--help']\n"
        "import contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    from kubexms.cli import main\n"
        "    try:\n"
        "        main()\n"
        "    except SystemExit:\n"
        "        pass"
    )
    modules = _loaded_after(code)
    commands = {m for m in modules if m.startswith("kubexms.cli._")}
    assert "kubexms.cli._sandbox" in commands
    assert not commands & {"kubexms.cli._exec", "kubexms.cli._artifact", "kubexms.cli._certs"}


def test_a_plain_exec_runs_without_typer_pydantic_nor_the_cluster_models() -> None:
    # The embedded default cluster: this machine through the local connector (no SSH).
    code = (
        "import sys; sys.argv = ['kubexms', 'exec', '-o', 'json', '--', 'echo', 'hi']\n"
        "import contextlib, io\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    from kubexms.cli import main\n"
        "    try:\n"
        "        main()\n"
        "    except SystemExit as exit:\n"
        "        assert exit.code == 0, exit.code\n"
        "assert json.loads(out.getvalue())['hosts']['localhost']['stdout'] == 'hi\\n'"
    )
    modules = _loaded_after("import json\n" + code)
    assert "kubexms.cli._exec_run" in modules  # it did run
    heavy = ("pydantic", "typer", "jinja2", "structlog")
    assert [m for m in modules if m.split(".")[0] in heavy] == []
    models = [m for m in modules if m.startswith("kubexms.config.")]
    assert "kubexms.config._cluster" not in models
    assert "kubexms.config._loader" not in models


@pytest.mark.parametrize(("width", "colour"), [("60", False), ("160", False), ("100", True)])
def test_the_fast_root_help_is_typers_own(width: str, colour: bool) -> None:
    env = {"COLUMNS": width, **({"FORCE_COLOR": "1"} if colour else {})}
    env.pop("TYPER_USE_RICH", None)
    fast = _run("-m", "kubexms", "--help", env=env)
    typer_own = _run(
        "-c",
        "from kubexms.cli import app; app(['--help'], prog_name='python -m kubexms')",
        env=env,
    )
    assert fast.returncode == typer_own.returncode == 0, fast.stderr + typer_own.stderr
    assert fast.stdout == typer_own.stdout


def _group(path: str) -> TyperGroup:
    group = typer.main.get_command(app)
    for word in path.split():
        assert isinstance(group, TyperGroup)
        found = group.get_command(None, word)  # type: ignore[arg-type]
        assert found is not None
        group = found
    assert isinstance(group, TyperGroup)
    return group


@pytest.mark.parametrize("declared", COMMANDS, ids=lambda c: c.path)
def test_each_declared_line_is_the_commands_own_help(declared: object) -> None:
    from kubexms.cli._commands import LazyCommand

    assert isinstance(declared, LazyCommand)
    command = _group(declared.parent).get_command(None, declared.name)  # type: ignore[arg-type]
    assert command is not None, f"{declared.target} did not load"
    own = (command.short_help or command.help or "").split("\n\n")[0].strip()
    assert own == declared.help


def test_every_parent_is_a_group() -> None:
    paths = {c.path for c in COMMANDS}
    for command in COMMANDS:
        assert not command.parent or command.parent in paths, command.path


def test_a_mistyped_command_suggests_the_lazy_ones() -> None:
    result = CliRunner().invoke(app, ["exe"])
    assert result.exit_code == 2
    assert "Did you mean 'exec'" in result.output


def test_create_lists_its_lazy_command() -> None:
    result = CliRunner().invoke(app, ["create", "--help"])
    assert result.exit_code == 0
    assert "Write a fully commented cluster.yaml scaffold." in result.output


def test_no_command_module_parses_the_bom_on_import() -> None:
    code = (
        "import importlib\n"
        "from kubexms.cli import COMMANDS\n"
        "for command in COMMANDS:\n"
        "    importlib.import_module(command.target.partition(':')[0])\n"
        "from kubexms.artifacts._bom import default_bom\n"
        "print(default_bom.cache_info().currsize)"
    )
    done = _run("-c", code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-1] == "0"  # read on first use, not on import
