"""Package operations under faults: a held lock, a failed install, a full disk, repairs.

A ScriptedConnector answers with what apt and dpkg print in those cases; the real behaviour
on hosts is proven in tests/integration/test_package_faults.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from kubexms.connector import CommandResult
from kubexms.runner import (
    NoSpaceError,
    PackageCommandError,
    PackageManagerLockedError,
    Runner,
)
from kubexms.runner._package_state import repair_script
from tests.unit.runner.fakes import Call, ScriptedConnector
from tests.unit.runner.scripted import with_facts

LOCKED = (
    "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 4242 (apt-get)\n"
    "E: Unable to acquire the dpkg frontend lock (/var/lib/dpkg/lock-frontend), is another "
    "process using it?\n"
)


class FailingConnector(ScriptedConnector):
    """Answers scripts matching ``fail_on`` with exit 100 and ``stderr``."""

    fail_on: str = ""
    stderr: str = ""

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
        result = await super().run(command, sudo=sudo, timeout=timeout, stdin=stdin)
        if self.fail_on and self.fail_on in command:
            return CommandResult(command, 100, result.stdout, self.stderr, 0.0)
        return result


def failing(fail_on: str, stderr: str, stdout: str = "") -> FailingConnector:
    connector = FailingConnector(with_facts(lambda call: stdout))
    connector.fail_on = fail_on
    connector.stderr = stderr
    return connector


async def test_a_locked_package_manager_is_a_retryable_error() -> None:
    fake = failing("--no-install-recommends", LOCKED, "@kxms:installed tree\n")
    with pytest.raises(PackageManagerLockedError) as caught:
        await Runner(fake).packages.install(["tree"])
    assert caught.value.retryable
    assert "locked by another process" in str(caught.value)
    assert "lock-frontend" in str(caught.value)


async def test_a_failed_install_names_the_command_and_the_end_of_stderr_only() -> None:
    noise = "".join(f"Reading line {n}\n" for n in range(40))
    stderr = noise + "E: Unable to locate package nosuch\n"
    fake = failing("--no-install-recommends", stderr, "@kxms:installed nosuch\n")
    with pytest.raises(PackageCommandError) as caught:
        await Runner(fake).packages.install(["nosuch"])
    message = str(caught.value)
    assert not caught.value.retryable
    assert message.splitlines()[0] == "scripted: apt install nosuch exited 100:"
    assert "E: Unable to locate package nosuch" in message
    assert "kx_has" not in message  # not the internal script
    assert "set -e" not in message
    assert "Reading line 0" not in message
    assert len(message.splitlines()) <= 7


async def test_a_full_upload_directory_is_told_before_uploading(tmp_path: Path) -> None:
    deb = tmp_path / "big_1.0_amd64.deb"
    deb.write_bytes(b"x" * 300_000)

    def answer(call: Call) -> str:
        return "@kxms:free 100\n" if "df -Pk" in call.command else ""

    fake = ScriptedConnector(with_facts(answer))
    runner = Runner(fake)
    with pytest.raises(NoSpaceError) as caught:
        await runner.packages.install_files([deb])
    assert str(caught.value) == (
        f"scripted: no space left on {runner.temp_dir} (100.0 KiB free, 293.0 KiB needed)"
    )
    assert fake.puts == []  # nothing half uploaded


async def test_a_repair_that_configured_packages_is_a_change_saying_what() -> None:
    fake = ScriptedConnector(with_facts(lambda call: "@kxms:configured socat\n"))
    change = await Runner(fake).packages.repair()
    assert change.changed
    assert change.detail == "configured socat"
    assert "dpkg --configure -a" in fake.calls[-1].command


async def test_nothing_to_repair_is_no_change() -> None:
    fake = ScriptedConnector(with_facts(lambda call: ""))
    assert not (await Runner(fake).packages.repair()).changed


async def test_repair_waits_for_the_lock_then_says_locked() -> None:
    fake = failing(
        "dpkg --configure", "dpkg: error: dpkg frontend lock was locked", "@kxms:locked\n"
    )
    with pytest.raises(PackageManagerLockedError):
        await Runner(fake).packages.repair(lock_wait=3)
    assert "kx_locked_retry 3 dpkg --configure -a" in repair_script(3)
