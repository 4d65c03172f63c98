"""OS packages: the package directory, the control machine's download, offline installs.

The probes run for real on this machine through the local connector: dpkg-query against its
own database (read only), and apt-cache, apt-get download, the repositories' reachability
probe and apt-get install against a scratch apt and dpkg root (a file:// repository of four
packages; `scratch_apt`). Only the host that runs another OS than this machine is scripted.
"""

# ruff: noqa: ASYNC240 - tests look at local files directly, blocking is fine here

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
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


def _package(build: Path, repo: Path, name: str, depends: str = "", provides: str = "") -> None:
    control = build / name / "DEBIAN" / "control"
    control.parent.mkdir(parents=True)
    fields = [f"Package: {name}", "Version: 1.0-1", "Architecture: all"]
    fields += ["Maintainer: kubexms tests <t@example.com>", "Description: a test package"]
    fields += [f"Depends: {depends}"] * bool(depends) + [f"Provides: {provides}"] * bool(provides)
    control.write_text("\n".join(fields) + "\n")
    subprocess.run(
        ["dpkg-deb", "-Zgzip", "--build", str(build / name), str(repo / f"{name}_1.0-1_all.deb")],
        check=True,
        capture_output=True,
    )


@pytest.fixture
def scratch_apt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """apt and dpkg on this machine pointed at scratch ones (APT_CONFIG, DPKG_ROOT and
    DPKG_ADMINDIR, inherited by the local connector's shell): a file:// repository of four
    packages, apt's own lists and cache, and a dpkg root with an empty database. apt-cache,
    apt-get, dpkg and dpkg-query answer for real and touch nothing of the machine's own."""
    if shutil.which("dpkg-deb") is None or shutil.which("dpkg-scanpackages") is None:
        pytest.skip("needs dpkg-deb and dpkg-scanpackages (Debian's dpkg-dev)")
    root = tmp_path / "apt"
    repo = root / "repo"
    for directory in (repo, root / "state/lists/partial", root / "cache/archives/partial"):
        directory.mkdir(parents=True)
    (root / "parts").mkdir()
    (root / "log").mkdir()
    # kxms-a needs kxms-b and a virtual package only kxms-impl provides; b and c need each other.
    _package(root / "build", repo, "kxms-a", depends="kxms-b, kxms-virtual")
    _package(root / "build", repo, "kxms-b", depends="kxms-c")
    _package(root / "build", repo, "kxms-c", depends="kxms-b")
    _package(root / "build", repo, "kxms-impl", provides="kxms-virtual")
    index = subprocess.run(
        ["dpkg-scanpackages", "-m", "."], cwd=repo, check=True, capture_output=True, text=True
    )
    packages = index.stdout.encode()
    (repo / "Packages").write_bytes(packages)
    # A Release naming the one (uncompressed) index, so apt asks for nothing that is not there
    # (its Err: lines would read as an unreachable repository).
    (repo / "Release").write_text(
        "Suite: test\nCodename: test\nArchitectures: all amd64\nSHA256:\n"
        f" {hashlib.sha256(packages).hexdigest()} {len(packages)} Packages\n"
    )
    admin = root / "root/var/lib/dpkg"
    for directory in (admin / "info", admin / "updates", admin / "triggers"):
        directory.mkdir(parents=True)
    (admin / "status").write_text("")
    (admin / "available").write_text("")
    (root / "sources.list").write_text(f"deb [trusted=yes] file:{repo} ./\n")
    settings = {
        "Dir::State": root / "state",
        "Dir::State::status": admin / "status",
        "Dir::Cache": root / "cache",
        "Dir::Etc::SourceList": root / "sources.list",
        "Dir::Etc::SourceParts": root / "parts",
        "Dir::Etc::Preferences": root / "preferences",
        "Dir::Etc::PreferencesParts": root / "parts",
        "Dir::Log": root / "log",  # apt's history and term logs
    }
    config = root / "apt.conf"
    config.write_text(
        "".join(f'{key} "{value}";\n' for key, value in settings.items())
        + f'DPkg::Options {{ "--log={root}/dpkg.log"; }};\n'  # not the machine's dpkg.log
    )
    monkeypatch.setenv("APT_CONFIG", str(config))
    monkeypatch.setenv("DPKG_ROOT", str(root / "root"))
    monkeypatch.setenv("DPKG_ADMINDIR", str(admin))
    subprocess.run(["apt-get", "-q", "update"], check=True, capture_output=True)
    return repo


async def test_download_resolves_dependencies_and_records_them(
    here: Context, scratch_apt: Path, tmp_path: Path
) -> None:
    # Real apt-cache depends and apt-get download, against the scratch repository.
    directory = tmp_path / "debs"
    step = DownloadPackages(["kxms-a"], directory)
    assert (await step.precheck(here)).changed
    change = await step.run(here)
    assert change.detail == "kxms-a kxms-b kxms-impl kxms-c"
    assert sorted(path.name for path in directory.glob("*.deb")) == [
        f"kxms-{name}_1.0-1_all.deb" for name in ("a", "b", "c", "impl")
    ]
    recorded = json.loads((directory / "CLOSURE.json").read_text())
    assert recorded["packages"] == ["kxms-a"]
    assert recorded["closure"] == change.detail.split()
    assert recorded["depends"]["kxms-a"] == [["kxms-b"], ["kxms-impl"]]  # the virtual's provider
    assert not (await step.precheck(here)).changed
    (directory / "kxms-c_1.0-1_all.deb").unlink()
    again = await step.run(here)  # only what is missing is downloaded again
    assert (again.changed, again.detail) == (True, "kxms-c")


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


async def test_a_host_that_reaches_its_repositories_installs_from_them(
    here: Context, scratch_apt: Path, tmp_path: Path
) -> None:
    # The reachability probe, apt-get install and dpkg-query run for real (scratch apt/dpkg).
    step = InstallPackages({"apt": ["kxms-a", "kxms-c"]}, PackageSource.auto(tmp_path / "debs"))
    predicted = await step.precheck(here)
    assert (predicted.changed, predicted.detail) == (
        True,
        "kxms-a kxms-c (from the host's repositories, or carried from this machine)",
    )
    change = await step.run(here)
    assert (change.changed, change.detail) == (True, "kxms-a kxms-c")
    installed = await here.runner.packages.installed(["kxms-a", "kxms-b", "kxms-c", "kxms-impl"])
    assert all(installed.values()), installed  # with the dependencies apt chose
    assert not (await step.precheck(here)).changed
    assert not (tmp_path / "debs").exists()  # nothing was carried from this machine
    assert "kxms-a" in (scratch_apt.parent / "dpkg.log").read_text()
