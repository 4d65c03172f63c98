"""runner.packages: the right tool per package manager, names quoted, results parsed.

Packages are never installed on this machine: a ScriptedConnector answers. The real
installs are proven on the simulated fleet (tests/integration/test_runner_packages.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kubexms.runner import Runner, UnsupportedHostError
from tests.unit.runner.fakes import Call, ScriptedConnector
from tests.unit.runner.scripted import with_facts


async def test_install_with_apt_reports_what_was_missing() -> None:
    fake = ScriptedConnector(with_facts(lambda call: "@kxms:installed tree\n"))
    change = await Runner(fake).packages.install(["hello", "tree"])
    assert change.changed
    assert change.detail == "tree"
    script = fake.calls[-1].command
    assert "apt-get" in script
    assert "--no-install-recommends" in script
    assert "for p in hello tree;" in script
    assert "update" not in script.split("install --no")[0].split("apt-get")[-1]
    assert fake.calls[-1].sudo


async def test_install_with_nothing_missing_is_unchanged() -> None:
    fake = ScriptedConnector(with_facts(lambda call: ""))
    assert not (await Runner(fake).packages.install(["hello"], update=True)).changed
    assert " update >&2" in fake.calls[-1].command  # runs only when something is missing


@pytest.mark.parametrize("manager", ["dnf", "yum"])
async def test_rpm_family_uses_rpm_queries(manager: str) -> None:
    fake = ScriptedConnector(with_facts(lambda call: "@kxms:removed tree\n", manager))
    change = await Runner(fake).packages.remove(["tree"])
    assert change.changed
    assert f"{manager} -y remove" in fake.calls[-1].command
    assert "rpm -q --quiet" in fake.calls[-1].command


async def test_installed_queries_all_in_one_round_trip() -> None:
    fake = ScriptedConnector(with_facts(lambda call: "@kxms:yes a\n@kxms:no b\n"))
    runner = Runner(fake)
    assert await runner.packages.installed(["a", "b"]) == {"a": True, "b": False}
    assert len(fake.calls) == 2  # facts once, then one query
    assert not await runner.packages.is_installed("b")
    assert len(fake.calls) == 3  # facts are cached


@pytest.mark.parametrize("bad", ["a;b", "-y", "$(x)", "a b", ""])
async def test_bad_package_names_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="not a package name"):
        await Runner(ScriptedConnector()).packages.install([bad])


async def test_one_string_instead_of_a_list_is_refused() -> None:
    with pytest.raises(TypeError):
        await Runner(ScriptedConnector()).packages.install("hello")


async def test_unsupported_package_manager() -> None:
    fake = ScriptedConnector(with_facts(lambda call: "", "apk"))
    with pytest.raises(UnsupportedHostError, match="apk"):
        await Runner(fake).packages.install(["x"])


async def test_install_files_uploads_then_installs_and_cleans_up(tmp_path: Path) -> None:
    deb = tmp_path / "hello_2.10_amd64.deb"
    deb.write_bytes(b"!<arch>\n")

    def answer(call: Call) -> str:
        if "df -Pk" in call.command:
            return "@kxms:free 1000\n"
        return "@kxms:installed hello\n" if "dpkg-deb" in call.command else ""

    fake = ScriptedConnector(with_facts(answer))
    runner = Runner(fake)
    change = await runner.packages.install_files([deb])
    assert change.changed
    assert change.detail == "hello"
    ((source, remote),) = fake.puts
    assert source == deb
    assert remote.startswith(f"{runner.temp_dir}/packages-")  # the run's own directory
    assert remote.endswith("/0.deb")
    assert "rm -rf" in fake.calls[-1].command


async def test_install_files_checks_the_suffix(tmp_path: Path) -> None:
    rpm = tmp_path / "x.rpm"
    rpm.write_bytes(b"")
    with pytest.raises(ValueError, match=r"not a \.deb"):
        await Runner(ScriptedConnector(with_facts(lambda c: ""))).packages.install_files([rpm])
