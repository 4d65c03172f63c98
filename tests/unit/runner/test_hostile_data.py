"""Names and contents full of shell syntax are data, never code (hypothesis, local shell)."""

# ruff: noqa: ASYNC240 - tests look at local files directly, blocking is fine here

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubexms.runner import Runner
from tests.unit.runner.fakes import ShellConnector

# Pieces a shell would love to interpret, plus non-ASCII and line breaks.
HOSTILE = st.sampled_from(
    [
        " ",
        "'",
        '"',
        "$(touch pwned)",
        "`touch pwned`",
        "\n",
        "\\",
        "*",
        "?",
        "[a]",
        "~",
        "$HOME",
        ";",
        "&",
        "|",
        ">",
        "-",
        "é",
        "中",
        "🙂",
        "\t",
        "%s",
        "{a,b}",
        "!",
    ]
)
NAME = (
    st.lists(st.one_of(HOSTILE, st.text("abc", min_size=1, max_size=3)), min_size=1)
    .map("".join)
    .filter(lambda n: "/" not in n and n not in (".", "..") and len(n.encode()) < 200)
)
CONTENT = st.lists(st.one_of(HOSTILE, st.text(max_size=5)), max_size=20).map("".join)

SETTINGS = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _runner() -> Runner:
    return Runner(ShellConnector())


@SETTINGS
@given(name=NAME, content=CONTENT)
async def test_write_and_read_back_exactly(name: str, content: str) -> None:
    runner = _runner()
    # A command substitution that ran would create ./pwned in the working directory.
    with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(tmp):
        path = f"{tmp}/{name}"
        assert (await runner.files.write(path, content)).changed
        assert Path(path).read_bytes() == content.encode()
        assert await runner.files.read_text(path) == content
        assert not (await runner.files.write(path, content)).changed
        assert sorted(os.listdir(tmp)) == [name]


@SETTINGS
@given(name=NAME, target=NAME)
async def test_symlink_mkdir_remove_with_hostile_names(name: str, target: str) -> None:
    runner = _runner()
    with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(tmp):
        link = f"{tmp}/{name}"
        assert (await runner.files.symlink(target, link)).changed
        assert os.readlink(link) == target
        assert not (await runner.files.symlink(target, link)).changed
        info = await runner.files.stat(link)
        assert info is not None
        assert info.link_target == target
        assert (await runner.files.remove(link)).changed
        directory = f"{tmp}/{target}"
        assert (await runner.files.mkdir(directory, mode=0o711)).changed
        assert os.path.isdir(directory)
        assert sorted(os.listdir(tmp)) == [target]


@SETTINGS
@given(block=CONTENT, marker=NAME.filter(lambda m: "\n" not in m))
async def test_managed_block_with_hostile_text(block: str, marker: str) -> None:
    runner = _runner()
    with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(tmp):
        path = f"{tmp}/hosts"
        Path(path).write_text("127.0.0.1 localhost\n")
        await runner.files.managed_block(path, block, marker=marker)
        assert not (await runner.files.managed_block(path, block, marker=marker)).changed
        text = Path(path).read_text()
        assert text.startswith("127.0.0.1 localhost\n")
        await runner.files.managed_block(path, None, marker=marker)
        assert Path(path).read_text() == "127.0.0.1 localhost\n"
        assert os.listdir(tmp) == ["hosts"]
