"""Where operations stage files: the run's own directory, never created by a dry run."""

from __future__ import annotations

from pathlib import Path

from kubexms.connector import LocalConnector
from kubexms.runner import Runner


async def test_writes_stage_in_the_run_directory_and_checks_create_nothing(
    tmp_path: Path,
) -> None:
    runner = Runner(LocalConnector("here"), sudo=False)
    runner.temp_dir = str(tmp_path / "runs" / "run-abc")
    target = tmp_path / "file.txt"
    change = await runner.files.write(str(target), "hello\n", check=True)
    assert change.changed
    assert not (tmp_path / "runs").exists()  # a check leaves nothing behind
    assert (await runner.files.write(str(target), "hello\n")).changed
    assert target.read_text() == "hello\n"
    assert list((tmp_path / "runs" / "run-abc").iterdir()) == []  # the stage is gone
    await runner.connector.close()
