"""runner.files and runner.templates on real fleet hosts, as root and as sudo users.

Each change is checked twice (second call unchanged) and the end state is read back on the
host independently of SSH (``fleet.host_exec``).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from kubexms.runner import FileSpec
from tests.integration.test_runner_support import USERS, host_runner, on_host, unique
from tests.leasing import LeaseHosts

pytestmark = pytest.mark.fleet


@pytest.mark.parametrize("user", USERS)
async def test_write_lands_atomically_with_mode_and_owner(lease: LeaseHosts, user: str) -> None:
    hosts = lease(1)
    base = f"/opt/{unique()}"
    path = f"{base}/conf/app.conf"
    async with host_runner(hosts, user) as runner:
        try:
            first = await runner.files.write(path, "key: välue\n", mode=0o640, owner="ops:ops")
            second = await runner.files.write(path, "key: välue\n", mode=0o640, owner="ops:ops")
            assert first.changed
            assert not second.changed
            assert await on_host(hosts, f"stat -c '%a %U:%G' {path}") == "640 ops:ops\n"
            assert await on_host(hosts, f"cat {path}") == "key: välue\n"
            assert await on_host(hosts, f"stat -c '%a %U' {base}/conf") == "755 root\n"
            fixed = await runner.files.write(path, "key: välue\n", mode=0o600, owner="root")
            assert fixed.detail == "mode/owner fixed"
            assert await on_host(hosts, f"stat -c '%a %U:%G' {path}") == "600 root:ops\n"
            assert await on_host(hosts, f"ls -A {base}/conf") == "app.conf\n"
            assert await runner.files.read_text(path) == "key: välue\n"
        finally:
            await on_host(hosts, f"rm -rf {base}")


@pytest.mark.parametrize("user", USERS)
async def test_directory_link_and_permission_operations(lease: LeaseHosts, user: str) -> None:
    hosts = lease(1)
    base = f"/opt/{unique()}"
    async with host_runner(hosts, user) as runner:
        try:
            assert (await runner.files.mkdir(f"{base}/d", mode=0o750, owner="ops")).changed
            assert not (await runner.files.mkdir(f"{base}/d", mode=0o750, owner="ops")).changed
            assert await on_host(hosts, f"stat -c '%a %U' {base}/d") == "750 ops\n"
            assert (await runner.files.chmod(f"{base}/d", 0o700)).changed
            assert not (await runner.files.chmod(f"{base}/d", 0o700)).changed
            assert (await runner.files.chown(base, "deployer:deployer", recursive=True)).changed
            assert not (await runner.files.chown(base, "deployer:deployer", recursive=True)).changed
            assert await on_host(hosts, f"stat -c '%a %U:%G' {base}/d") == "700 deployer:deployer\n"
            assert (await runner.files.symlink(f"{base}/d", f"{base}/current")).changed
            assert not (await runner.files.symlink(f"{base}/d", f"{base}/current")).changed
            assert await on_host(hosts, f"readlink {base}/current") == f"{base}/d\n"
            info = await runner.files.stat(f"{base}/current")
            assert info is not None
            assert (info.kind, info.link_target) == ("symlink", f"{base}/d")
            assert await runner.files.exists(f"{base}/d")
            assert (await runner.files.remove(base)).changed
            assert not (await runner.files.remove(base)).changed
            assert not await runner.files.exists(base)
        finally:
            await on_host(hosts, f"rm -rf {base}")


@pytest.mark.parametrize("user", ["root", "deployer"])
async def test_upload_and_fetch_files_and_trees(
    lease: LeaseHosts, user: str, tmp_path: Path
) -> None:
    hosts = lease(1)
    base = f"/opt/{unique()}"
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "tool").write_bytes(b"#!/bin/sh\n")
    (tree / "sub" / "tool").chmod(0o755)
    blob = os.urandom(5 * 1024 * 1024)
    (tree / "blob.bin").write_bytes(blob)
    async with host_runner(hosts, user) as runner:
        try:
            assert (await runner.files.upload(tree, f"{base}/tree", owner="ops")).changed
            assert not (await runner.files.upload(tree, f"{base}/tree", owner="ops")).changed
            digest = hashlib.sha256(blob).hexdigest()
            assert (await on_host(hosts, f"sha256sum {base}/tree/blob.bin")).split()[0] == digest
            assert await on_host(hosts, f"stat -c '%a %U' {base}/tree/sub/tool") == "755 ops\n"
            single = tmp_path / "single.txt"
            single.write_text("one\n")
            assert (await runner.files.upload(single, f"{base}/one.txt", mode=0o600)).changed
            assert not (await runner.files.upload(single, f"{base}/one.txt", mode=0o600)).changed
            assert (
                await runner.files.sha256(f"{base}/one.txt") == hashlib.sha256(b"one\n").hexdigest()
            )
            fetched = tmp_path / "fetched"
            assert (await runner.files.fetch(f"{base}/tree", fetched)).changed
            assert not (await runner.files.fetch(f"{base}/tree", fetched)).changed
            assert (fetched / "blob.bin").read_bytes() == blob
        finally:
            await on_host(hosts, f"rm -rf {base}")


@pytest.mark.parametrize("user", ["root", "ops"])
async def test_managed_block_in_etc_hosts_keeps_the_rest(lease: LeaseHosts, user: str) -> None:
    hosts = lease(1)
    marker = unique("kubexms-test")
    original = await on_host(hosts, "cat /etc/hosts")
    block = "10.213.255.1 lb.kubexms.local\n10.213.255.2 node-x"
    async with host_runner(hosts, user) as runner:
        try:
            assert (await runner.files.managed_block("/etc/hosts", block, marker=marker)).changed
            assert not (
                await runner.files.managed_block("/etc/hosts", block, marker=marker)
            ).changed
            text = await on_host(hosts, "cat /etc/hosts")
            assert text.startswith(original)
            assert f"# BEGIN {marker}\n{block}\n# END {marker}\n" in text
            assert await on_host(hosts, "stat -c %a /etc/hosts") == "644\n"
            assert (await runner.files.managed_block("/etc/hosts", None, marker=marker)).changed
            assert await on_host(hosts, "cat /etc/hosts") == original
        finally:
            await on_host(hosts, f"sed -i '/BEGIN {marker}/,/END {marker}/d' /etc/hosts")


async def test_template_and_many_files_in_one_call(lease: LeaseHosts) -> None:
    hosts = lease(1)
    base = f"/opt/{unique()}"
    async with host_runner(hosts, "ops") as runner:
        try:
            template = "name={{ name }}\n{% for p in ports %}port={{ p }}\n{% endfor %}"
            variables = {"name": "etcd", "ports": [2379, 2380]}
            assert (await runner.templates.render(template, f"{base}/t.conf", variables)).changed
            assert not (
                await runner.templates.render(template, f"{base}/t.conf", variables)
            ).changed
            assert await on_host(hosts, f"cat {base}/t.conf") == "name=etcd\nport=2379\nport=2380\n"
            specs = [FileSpec(f"{base}/m/{i}", f"{i}\n".encode(), 0o600) for i in range(10)]
            assert all(c.changed for c in await runner.files.write_many(specs))
            assert not any(c.changed for c in await runner.files.write_many(specs))
            assert await on_host(hosts, f"cat {base}/m/7") == "7\n"
        finally:
            await on_host(hosts, f"rm -rf {base}")
