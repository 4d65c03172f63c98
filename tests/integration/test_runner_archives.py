"""runner.archives on a real host: tar.gz, tar.xz and zip, selected members, idempotent."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.integration.test_runner_support import host_runner, on_host, unique
from tests.leasing import LeaseHosts

pytestmark = pytest.mark.fleet

FILES = {
    "etcd-v3/etcd": b"#!/bin/sh\necho etcd\n",
    "etcd-v3/etcdctl": b"ctl\n",
    "etcd-v3/README.md": b"doc\n",
}


def build(path: Path) -> None:
    if path.suffix == ".zip":
        with zipfile.ZipFile(path, "w") as archive:
            for name, data in FILES.items():
                archive.writestr(name, data)
        return
    mode = "w:gz" if path.name.endswith(".tar.gz") else "w:xz"
    with tarfile.open(path, mode) as archive:  # type: ignore[call-overload]
        for name, data in FILES.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.uid = len(data), 0o755, 4321
            archive.addfile(info, io.BytesIO(data))


@pytest.mark.parametrize("archive_name", ["etcd.tar.gz", "etcd.tar.xz", "etcd.zip"])
@pytest.mark.parametrize("user", ["root", "deployer"])
async def test_extract_all_then_selected(
    lease: LeaseHosts, tmp_path: Path, archive_name: str, user: str
) -> None:
    hosts = lease(1)
    local = tmp_path / archive_name
    build(local)
    base = f"/opt/{unique()}"
    async with host_runner(hosts, user) as runner:
        try:
            await runner.files.upload(local, f"{base}/{archive_name}")
            archive = f"{base}/{archive_name}"
            first = await runner.archives.extract(archive, f"{base}/all")
            assert first.changed
            assert not (await runner.archives.extract(archive, f"{base}/all")).changed
            listing = await on_host(hosts, f"cd {base}/all && find . -type f | sort")
            assert listing == "./etcd-v3/README.md\n./etcd-v3/etcd\n./etcd-v3/etcdctl\n"
            assert await on_host(hosts, f"stat -c %U {base}/all/etcd-v3/etcd") == "root\n"
            await on_host(hosts, f"echo changed > {base}/all/etcd-v3/etcdctl")
            repaired = await runner.archives.extract(archive, f"{base}/all")
            assert repaired.detail == "1 file(s) replaced"
            assert await on_host(hosts, f"cat {base}/all/etcd-v3/etcdctl") == "ctl\n"
            members = ["etcd-v3/etcd", "etcd-v3/etcdctl"]
            strip = 0 if archive_name.endswith(".zip") else 1
            picked = await runner.archives.extract(
                archive, f"{base}/bin", members=members, strip_components=strip, owner="ops"
            )
            assert picked.changed
            prefix = "" if strip else "etcd-v3/"
            assert await on_host(hosts, f"cd {base}/bin && find . -type f | sort") == (
                f"./{prefix}etcd\n./{prefix}etcdctl\n"
            )
            assert await on_host(hosts, f"stat -c %U {base}/bin/{prefix}etcd") == "ops\n"
            assert await on_host(hosts, f"ls -A {base}") == f"all\nbin\n{archive_name}\n"
        finally:
            await on_host(hosts, f"rm -rf {base}")
