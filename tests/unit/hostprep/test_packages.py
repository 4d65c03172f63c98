"""OS packages: the package directory, the control machine's download, offline installs."""

# ruff: noqa: ASYNC240 - tests look at local files directly, blocking is fine here

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kubexms.hostprep import (
    DownloadPackages,
    InstallPackages,
    PackageDirectoryError,
    PackageSource,
    required_packages,
)
from kubexms.hostprep._package_source import DebFile, debs_for, first_choice_dependencies
from kubexms.hostprep._requirements import package_names_by_manager
from kubexms.runtime import ClusterRuntime, Context, new_runtime
from kubexms.testing import cluster_of
from tests.unit.engine.test_timeouts import local_cluster
from tests.unit.hostprep.scripted import Script, scripted_context

NAMES = {"apt": ["conntrack", "socat"], "dnf": ["conntrack-tools", "socat"]}


def deb(directory: Path, name: str, version: str = "1.0-1", arch: str = "amd64") -> Path:
    path = directory / f"{name}_{version.replace(':', '%3a')}_{arch}.deb"
    path.write_bytes(b"!<arch>\n" + name.encode())
    return path


def test_deb_file_names() -> None:
    parsed = DebFile.parse(Path("conntrack_1%3a1.4.7-1+b2_amd64.deb"))
    assert parsed is not None
    assert (parsed.name, parsed.version, parsed.arch) == ("conntrack", "1:1.4.7-1+b2", "amd64")
    assert DebFile.parse(Path("notes.txt")) is None
    assert DebFile.parse(Path("odd_name.deb")) is None


def test_debs_for_an_architecture(tmp_path: Path) -> None:
    deb(tmp_path, "socat")
    deb(tmp_path, "netbase", "6.4", "all")
    deb(tmp_path, "socat-arm", arch="arm64")
    assert sorted(debs_for(tmp_path, "amd64")) == ["netbase", "socat"]
    deb(tmp_path, "socat", "2.0-1")
    with pytest.raises(PackageDirectoryError, match="two files for package socat"):
        debs_for(tmp_path, "amd64")
    with pytest.raises(PackageDirectoryError, match="does not exist"):
        debs_for(tmp_path / "nope", "amd64")


def test_dependencies_as_apt_would_choose_them() -> None:
    # apt-cache depends haproxy (abridged): libelogind0 only *provides* libsystemd0.
    output = (
        "haproxy\n"
        "  PreDepends: dpkg\n"
        "  Depends: libsystemd0\n"
        "    libelogind0\n"
        " |Depends: libssl3\n"
        "  Depends: libssl1.1\n"
        "  Depends: <debconf-2.0>\n"
        "    debconf\n"
        "    cdebconf\n"
        "  Depends: python3:any\n"
        "libc6\n"
        "  Depends: libgcc-s1\n"
    )
    assert first_choice_dependencies(output) == {
        "haproxy": ["dpkg", "libsystemd0", "libssl3", "debconf", "python3"],
        "libc6": ["libgcc-s1"],
    }


def test_package_lists() -> None:
    assert required_packages(cluster_of(1), "apt") == [
        "conntrack",
        "socat",
        "ipset",
        "ebtables",
        "ethtool",
        "iptables",
    ]
    ipvs = cluster_of(1, extra_spec={"kubernetes": {"kubeProxy": {"mode": "ipvs"}}})
    assert required_packages(ipvs, "dnf")[-1] == "ipvsadm"
    assert package_names_by_manager(ipvs)["yum"][0] == "conntrack-tools"


@pytest.fixture
async def here(tmp_path: Path) -> AsyncIterator[Context]:
    """This machine through the local connector: its dpkg answers for real, read-only (the
    prechecks below are check mode; nothing here is installed)."""
    runtime: ClusterRuntime = await new_runtime(local_cluster(tmp_path / "work"))
    async with runtime:
        yield runtime.new_context(runtime.hosts[0])


HERE = {"apt": ["dpkg", "kxms-test-tool"]}  # dpkg is installed here, the other is not


async def test_offline_precheck_counts_every_package_in_the_directory(
    here: Context, tmp_path: Path
) -> None:
    for name in ("dpkg", "kxms-test-tool", "kxms-test-lib"):
        deb(tmp_path, name)
    step = InstallPackages(HERE, PackageSource.offline(tmp_path))
    change = await step.precheck(here)
    assert (change.changed, change.detail) == (True, "kxms-test-lib kxms-test-tool")
    assert step.params()["source"] == {
        "kind": "offline",
        "directory": str(tmp_path),
        "download": False,
    }


async def test_offline_names_a_package_the_directory_lacks(here: Context, tmp_path: Path) -> None:
    deb(tmp_path, "dpkg")
    step = InstallPackages(HERE, PackageSource.offline(tmp_path))
    with pytest.raises(PackageDirectoryError, match=r"here lacks kxms-test-tool and .* \.deb"):
        await step.precheck(here)


async def test_downloaded_packages_refuse_another_platform(here: Context, tmp_path: Path) -> None:
    for name in HERE["apt"]:
        deb(tmp_path, name)
    (tmp_path / "PLATFORM.json").write_text(
        json.dumps({"os_id": "ubuntu", "os_version": "22.04", "arch": "amd64"})
    )
    step = InstallPackages(HERE, PackageSource.offline(tmp_path, download=True))
    with pytest.raises(PackageDirectoryError, match=r"here runs .*, but .* for ubuntu 22\.04"):
        await step.precheck(here)


async def test_repositories_and_auto_prechecks(here: Context, tmp_path: Path) -> None:
    done = {"apt": ["dpkg"]}
    assert not (await InstallPackages(done, PackageSource.repositories()).precheck(here)).changed
    assert not (await InstallPackages(done, PackageSource.auto(tmp_path)).precheck(here)).changed
    wanted = await InstallPackages(HERE, PackageSource.repositories()).precheck(here)
    assert (wanted.changed, wanted.detail) == (True, "kxms-test-tool")
    auto = await InstallPackages(HERE, PackageSource.auto(tmp_path)).precheck(here)
    assert auto.detail == (
        "kxms-test-tool (from the host's repositories, or carried from this machine)"
    )


async def test_download_precheck_trusts_a_finished_download(here: Context, tmp_path: Path) -> None:
    facts = await here.runner.facts()
    platform = {"os_id": facts.os_id, "os_version": facts.os_version, "arch": facts.arch}
    (tmp_path / "PLATFORM.json").write_text(json.dumps(platform))
    (tmp_path / "CLOSURE.json").write_text(
        json.dumps({"packages": ["socat"], "closure": ["socat", "libc6"]})
    )
    deb(tmp_path, "socat", arch=facts.arch)
    step = DownloadPackages(["socat"], tmp_path)
    assert (await step.precheck(here)).changed  # libc6 is missing
    deb(tmp_path, "libc6", arch=facts.arch)
    assert not (await step.precheck(here)).changed


def test_sources_chosen_from_the_cluster_file_and_the_flags(tmp_path: Path) -> None:
    work = tmp_path / "work"
    default = work / "packages" / "deb"
    assert PackageSource.choose("auto", None, work) == PackageSource.auto(default)
    assert PackageSource.choose("repositories", tmp_path, work) == PackageSource.repositories()
    assert PackageSource.choose("offline", tmp_path, work) == PackageSource.offline(tmp_path)
    assert PackageSource.choose("offline", None, work) == PackageSource.offline(
        default, download=True
    )
    flagged = PackageSource.choose("repositories", None, work, packages_dir=tmp_path)
    assert flagged == PackageSource.offline(tmp_path)
    download = PackageSource.choose("auto", tmp_path, work, download=True)
    assert download == PackageSource.offline(tmp_path, download=True)


async def test_download_resolves_dependencies_and_records_them(tmp_path: Path) -> None:
    directory = tmp_path / "debs"
    script = Script()
    script.on("command -v apt-get", "")
    levels = {
        "socat": "socat\n  Depends: libc6\n  Depends: <debconf-2.0>\n    debconf\n",
        "libc6 debconf": "libc6\n  Depends: libgcc-s1\ndebconf\n",
        "libgcc-s1": "libgcc-s1\n  Depends: libc6\n",
    }

    def depends(command: str, stdin: bytes) -> str:
        # One level per call, as apt-cache depends without --recurse answers.
        return levels[" ".join(word.strip("'") for word in command.split()[8:])]

    script.on("apt-cache depends", depends)

    def download(command: str, stdin: bytes) -> str:
        for name in command.split()[2:]:
            deb(directory, name)
        return ""

    script.on("apt-get download", download)
    script.on("mkdir", "@kxms:done created\n")
    script.on("kx_sync", "@kxms:wrote 0\n@kxms:wrote 1\n")
    _, ctx = await scripted_context(script)
    step = DownloadPackages(["socat"], directory)
    assert (await step.precheck(ctx)).changed
    directory.mkdir()
    change = await step.run(ctx)
    assert change is not None
    assert change.detail == "socat libc6 debconf libgcc-s1"
    assert script.ran("apt-get download")[0] == "apt-get download socat libc6 debconf libgcc-s1"


def unreached(problem: str) -> str:
    return f"@kxms:unreached {base64.b64encode(problem.encode()).decode()}\n"


async def test_a_host_neither_reaching_a_repository_nor_servable_gets_one_clear_error(
    tmp_path: Path,
) -> None:
    # The host (scripted) runs Ubuntu and reaches no mirror; this machine's packages (its
    # facts are read for real) are for another release.
    script = Script().on("dpkg-query", "").on("Acquire::Retries=0", unreached("Err:1 no route"))
    script.facts.update(os_id="ubuntu", os_version="22.04")
    _, ctx = await scripted_context(script)
    step = InstallPackages(NAMES, PackageSource.auto(tmp_path))
    with pytest.raises(PackageDirectoryError) as raised:
        await step.run(ctx)
    assert str(raised.value).startswith(
        "node1 reaches no package repository (Err:1 no route), and this machine cannot serve "
        "it: it runs ubuntu 22.04 amd64, this machine "
    )
    assert "give the host a mirror" in str(raised.value)
    assert not list(tmp_path.iterdir())  # nothing was downloaded


async def test_a_host_that_reaches_its_repositories_installs_from_them(tmp_path: Path) -> None:
    script = Script().on("apt-get -q -y", "@kxms:installed conntrack\n@kxms:installed socat\n")
    script.on("Acquire::Retries=0", "@kxms:reached\n").on("dpkg-query", "")
    _, ctx = await scripted_context(script)
    change = await InstallPackages(NAMES, PackageSource.auto(tmp_path)).run(ctx)
    assert (change.changed, change.detail) == (True, "conntrack socat")
    (install,) = script.ran("apt-get -q -y")
    assert " update" not in install  # the reachability probe refreshed the lists already
