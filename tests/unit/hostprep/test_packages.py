"""OS packages: the package directory, the control machine's download, offline installs."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from kubexms.hostprep import (
    DownloadPackages,
    InstallPackages,
    PackageDirectoryError,
    PackageSource,
    required_packages,
)
from kubexms.hostprep._package_source import DebFile, closure_names, debs_for
from kubexms.hostprep._requirements import package_names_by_manager
from kubexms.testing import cluster_of
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


def test_closure_from_apt_cache() -> None:
    output = "socat\n  Depends: libc6\n  Depends: <debconf-2.0>\nlibc6\n<debconf-2.0>\n"
    assert closure_names(output) == ["socat", "libc6"]


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


def dpkg_answer(installed: set[str]) -> Callable[[str, bytes], str]:
    def answer(command: str, stdin: bytes) -> str:
        names = command.split(" -- ", 1)[1].split(" 2>")[0].split()
        return "".join(f"{name}\tii \n" for name in names if name in installed)

    return answer


async def test_install_offline_uploads_only_what_is_missing(tmp_path: Path) -> None:
    for name in ("conntrack", "socat", "libc6", "libnetfilter-conntrack3"):
        deb(tmp_path, name)
    script = Script()
    script.on("dpkg-query -W -f='${Package}", dpkg_answer({"libc6", "socat"}))
    script.on("dpkg --configure -a", "")
    script.on(
        "kx_file_wanted", "@kxms:installed conntrack\n@kxms:installed libnetfilter-conntrack3\n"
    )
    runtime, ctx = await scripted_context(script)
    step = InstallPackages(NAMES, PackageSource.offline(tmp_path))
    assert not await step.precheck(ctx)
    change = await step.run(ctx)
    assert change is not None
    assert change.changed
    connector = runtime.hosts[0].runner.connector
    uploaded = sorted(Path(path).name for path in connector.files)  # type: ignore[attr-defined]
    assert len(uploaded) == 2  # conntrack and its library; libc6 and socat are there already
    assert script.ran("dpkg --configure -a")


async def test_install_offline_names_a_package_the_directory_lacks(tmp_path: Path) -> None:
    deb(tmp_path, "socat")
    script = Script().on("dpkg-query", dpkg_answer(set()))
    _, ctx = await scripted_context(script)
    step = InstallPackages(NAMES, PackageSource.offline(tmp_path))
    with pytest.raises(PackageDirectoryError, match=r"node1 lacks conntrack and .* no amd64 \.deb"):
        await step.run(ctx)


async def test_downloaded_packages_refuse_another_platform(tmp_path: Path) -> None:
    deb(tmp_path, "conntrack")
    deb(tmp_path, "socat")
    (tmp_path / "PLATFORM.json").write_text(
        json.dumps({"os_id": "ubuntu", "os_version": "22.04", "arch": "amd64"})
    )
    script = Script().on("dpkg-query", dpkg_answer(set()))
    _, ctx = await scripted_context(script)
    step = InstallPackages(NAMES, PackageSource.offline(tmp_path, download=True))
    with pytest.raises(PackageDirectoryError, match=r"node1 runs debian 12 amd64, but .*ubuntu"):
        await step.run(ctx)


async def test_precheck_counts_every_package_in_the_directory(tmp_path: Path) -> None:
    deb(tmp_path, "chrony")  # an extra package the user put there: installed too
    script = Script().on("dpkg-query", dpkg_answer({"conntrack", "socat"}))
    _, ctx = await scripted_context(script)
    assert not await InstallPackages(NAMES, PackageSource.offline(tmp_path)).precheck(ctx)
    assert await InstallPackages(NAMES, PackageSource.repositories()).precheck(ctx)


async def test_repositories_install_with_the_package_manager() -> None:
    script = Script().on("apt-get -q -y", "@kxms:installed socat\n")
    script.facts["package_manager"] = "apt-get"
    _, ctx = await scripted_context(script)
    change = await InstallPackages(NAMES, PackageSource.repositories()).run(ctx)
    assert change is not None
    assert change.detail == "socat"
    assert "update" in script.ran("apt-get -q -y")[0]


async def test_download_resolves_dependencies_and_records_them(tmp_path: Path) -> None:
    directory = tmp_path / "debs"
    script = Script()
    script.on("command -v apt-get", "")
    script.on("apt-cache depends", "socat\nlibc6\n<debconf-2.0>\n")

    def download(command: str, stdin: bytes) -> str:
        for name in command.split()[2:]:
            deb(directory, name)
        return ""

    script.on("apt-get download", download)
    script.on("mkdir", "@kxms:done created\n")
    script.on("kx_sync", "@kxms:wrote 0\n@kxms:wrote 1\n")
    _, ctx = await scripted_context(script)
    step = DownloadPackages(["socat"], directory)
    assert not await step.precheck(ctx)
    directory.mkdir()
    change = await step.run(ctx)
    assert change is not None
    assert change.detail == "socat libc6"
    assert script.ran("apt-get download")[0] == "apt-get download socat libc6"
