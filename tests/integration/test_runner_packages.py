"""runner.packages with apt on fleet hosts, which have no route to any mirror.

A small real package (``hello``) is downloaded on this machine, then installed on a host
from the uploaded .deb (offline), and from a file:// apt repository built on the host with
dpkg-scanpackages (package dpkg-dev), the way an air-gapped install serves its packages.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.integration.test_runner_support import host_runner, on_host, unique
from tests.leasing import HostLease, LeaseHosts

pytestmark = pytest.mark.fleet

PACKAGE = "hello"


@pytest.fixture(scope="module")
def hello_deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("debs")

    def download() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["apt-get", "download", PACKAGE],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=300,
        )

    done = download()
    if done.returncode != 0:  # package lists missing on a fresh machine
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, timeout=600, check=False)
        done = download()
    assert done.returncode == 0, f"apt-get download {PACKAGE} failed: {done.stderr}"
    (deb,) = directory.glob(f"{PACKAGE}_*.deb")
    return deb


async def absent(hosts: HostLease) -> None:
    await on_host(hosts, f"dpkg -r {PACKAGE} >/dev/null 2>&1 || true")


@pytest.mark.parametrize("user", ["root", "deployer"])
async def test_install_from_uploaded_files_offline(
    lease: LeaseHosts, hello_deb: Path, user: str
) -> None:
    hosts = lease(1)
    await absent(hosts)
    async with host_runner(hosts, user) as runner:
        try:
            assert not await runner.packages.is_installed(PACKAGE)
            first = await runner.packages.install_files([hello_deb])
            assert first.changed
            assert first.detail == PACKAGE
            assert not (await runner.packages.install_files([hello_deb])).changed
            assert await runner.packages.installed([PACKAGE, "dpkg"]) == {
                PACKAGE: True,
                "dpkg": True,
            }
            status = await on_host(hosts, f"dpkg-query -W -f='${{Status}}' {PACKAGE}")
            assert status == "install ok installed"
            assert await on_host(hosts, "hello") == "Hello, world!\n"
            leftovers = f"ls -A {runner.temp_dir} 2>/dev/null | grep -c packages || true"
            assert await on_host(hosts, leftovers) == "0\n"
            assert (await runner.packages.remove([PACKAGE])).changed
            assert not (await runner.packages.remove([PACKAGE])).changed
            code, _, _ = await hosts.exec(hosts[0], "command -v hello")
            assert code != 0
        finally:
            await absent(hosts)


@pytest.fixture
async def repository_host(
    lease: LeaseHosts, hello_deb: Path
) -> AsyncIterator[tuple[HostLease, str]]:
    """A leased host whose only apt source is a file:// repository serving ``hello``.

    The host's sources and package lists are put aside and restored afterwards.
    """
    hosts = lease(1)
    name = hosts[0].name
    token = unique("kxms-repo")
    repo, aside = f"/srv/{token}", f"/var/tmp/{token}-aside"
    data = await asyncio.to_thread(hello_deb.read_bytes)
    code, _, err = await hosts.exec(
        name, f"mkdir -p {repo} && cat > {repo}/{hello_deb.name}", stdin=data
    )
    assert code == 0, err
    await on_host(
        hosts,
        f"set -e; cd {repo}; dpkg-scanpackages --multiversion . /dev/null > Packages 2>/dev/null\n"
        f"mkdir -p {aside}/sources.list.d; cp -a /var/lib/apt/lists {aside}/lists\n"
        f"mv /etc/apt/sources.list.d/* {aside}/sources.list.d/ 2>/dev/null || true\n"
        f"[ ! -e /etc/apt/sources.list ] || mv /etc/apt/sources.list {aside}/\n"
        f"echo 'deb [trusted=yes] file:{repo} ./' > /etc/apt/sources.list.d/{token}.list",
    )
    try:
        yield hosts, repo
    finally:
        await on_host(
            hosts,
            f"rm -f /etc/apt/sources.list.d/{token}.list\n"
            f"mv {aside}/sources.list.d/* /etc/apt/sources.list.d/ 2>/dev/null || true\n"
            f"[ ! -e {aside}/sources.list ] || mv {aside}/sources.list /etc/apt/\n"
            f"rm -rf /var/lib/apt/lists && mv {aside}/lists /var/lib/apt/lists\n"
            f"rm -rf {aside} {repo}",
        )


@pytest.mark.parametrize("user", ["root", "ops"])
async def test_install_from_a_repository(repository_host: tuple[HostLease, str], user: str) -> None:
    hosts, _ = repository_host
    await absent(hosts)
    async with host_runner(hosts, user) as runner:
        try:
            change = await runner.packages.install([PACKAGE], update=True)
            assert change.changed
            assert change.detail == PACKAGE
            assert await on_host(hosts, "hello") == "Hello, world!\n"
            assert not (await runner.packages.install([PACKAGE], update=True)).changed
            assert (await runner.packages.remove([PACKAGE])).changed
            assert not await runner.packages.is_installed(PACKAGE)
        finally:
            await absent(hosts)
