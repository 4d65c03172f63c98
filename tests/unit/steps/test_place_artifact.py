"""PlaceArtifact against a real shell: a binary or an archive from the store lands on the
host, verified by sha256; a second run changes nothing; the precheck says what would change."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from kubexms.artifacts import ArtifactStore, DistributionError, ManifestEntry
from kubexms.runtime import Context
from kubexms.steps import PlaceArtifact
from kubexms.steps._probe import record_path
from tests.unit.steps.local import local_cluster, local_context

TOOL = b"#!/bin/sh\necho node-tool\n"
RELEASE = {
    "etcd-v3.5.9-linux-amd64/etcd": (b"etcd binary", 0o755),
    "etcd-v3.5.9-linux-amd64/etcdctl": (b"etcdctl binary", 0o755),
    "etcd-v3.5.9-linux-amd64/README.md": (b"read me", 0o644),
}


def _entry(component: str, version: str, file: str, data: bytes, **more: object) -> ManifestEntry:
    return ManifestEntry(
        component=component,
        version=version,
        arch=str(more.pop("arch", "amd64")),
        file=file,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        url=f"https://example.invalid/{file}",
        checksum_source="test",
        **more,
    )


def _tarball(members: dict[str, tuple[bytes, int]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        directory = tarfile.TarInfo("etcd-v3.5.9-linux-amd64")
        directory.type = tarfile.DIRTYPE
        directory.mode = 0o755
        archive.addfile(directory)
        for name, (data, mode) in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _store(root: Path) -> ArtifactStore:
    store = ArtifactStore(root)
    entries = []
    for entry, data in [
        (_entry("node-tool", "v1.0.0", "node-tool-amd64", TOOL, executable=True), TOOL),
        (
            _entry("etcd", "v3.5.9", "etcd-v3.5.9-linux-amd64.tar.gz", _tarball(RELEASE)),
            _tarball(RELEASE),
        ),
    ]:
        path = store.path_of(entry)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        entries.append(entry)
    store.record(entries)
    return store


@pytest.fixture
async def ctx(tmp_path: Path) -> Context:
    _store(tmp_path / "work" / "artifacts")
    _, context = await local_context(local_cluster(tmp_path / "work"))
    return context


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o7777


async def test_binary_lands_with_its_mode_and_a_rerun_changes_nothing(
    ctx: Context, tmp_path: Path
) -> None:
    dest = tmp_path / "host" / "usr" / "local" / "bin" / "node-tool"
    step = PlaceArtifact("node-tool", str(dest))
    before = await step.precheck(ctx)
    assert before.changed
    assert str(dest) in before.detail
    assert not dest.exists()  # the precheck only reads

    change = await step.run(ctx)
    assert change.changed
    assert dest.read_bytes() == TOOL
    assert _mode(dest) == 0o755
    assert not (await step.precheck(ctx)).changed
    assert not (await step.run(ctx)).changed


async def test_a_changed_file_or_mode_is_put_back(ctx: Context, tmp_path: Path) -> None:
    dest = tmp_path / "host" / "bin" / "tool"
    step = PlaceArtifact("node-tool", str(dest), mode=0o700)
    await step.run(ctx)
    assert _mode(dest) == 0o700
    dest.chmod(0o755)
    assert (await step.precheck(ctx)).changed
    dest.write_bytes(b"tampered")
    assert (await step.run(ctx)).changed
    assert dest.read_bytes() == TOOL
    assert _mode(dest) == 0o700


async def test_archive_members_are_extracted_with_strip(ctx: Context, tmp_path: Path) -> None:
    bin_dir = tmp_path / "host" / "usr" / "local" / "bin"
    cache = tmp_path / "host" / "cache"
    step = PlaceArtifact(
        "etcd",
        str(bin_dir),
        extract=True,
        members=("etcd-v3.5.9-linux-amd64/etcd", "etcd-v3.5.9-linux-amd64/etcdctl"),
        strip_components=1,
        remote_dir=str(cache),
    )
    pending = await step.precheck(ctx)
    assert pending.changed
    assert "etcdctl" in pending.detail
    await step.run(ctx)
    assert sorted(os.listdir(bin_dir)) == ["etcd", "etcdctl"]
    assert (bin_dir / "etcd").read_bytes() == b"etcd binary"
    assert _mode(bin_dir / "etcdctl") == 0o755
    archive = cache / "etcd" / "v3.5.9" / "etcd-v3.5.9-linux-amd64.tar.gz"
    assert archive.is_file()  # kept in the host's cache
    assert not (await step.precheck(ctx)).changed
    (bin_dir / "etcd").write_bytes(b"other")
    again = await step.run(ctx)
    assert again.changed
    assert "etcd" in again.detail
    assert (bin_dir / "etcd").read_bytes() == b"etcd binary"


async def test_members_may_name_the_version_and_arch(ctx: Context, tmp_path: Path) -> None:
    bin_dir = tmp_path / "host" / "bin"
    step = PlaceArtifact(
        "etcd",
        str(bin_dir),
        extract=True,
        members=("etcd-{version}-linux-{arch}/etcd",),
        strip_components=1,
        remote_dir=str(tmp_path / "cache"),
    )
    await step.run(ctx)
    assert os.listdir(bin_dir) == ["etcd"]
    assert not (await step.precheck(ctx)).changed


async def test_the_whole_archive_without_members(ctx: Context, tmp_path: Path) -> None:
    dest = tmp_path / "host" / "opt" / "etcd"
    step = PlaceArtifact("etcd", str(dest), extract=True, remote_dir=str(tmp_path / "c"))
    await step.run(ctx)
    assert sorted(os.listdir(dest / "etcd-v3.5.9-linux-amd64")) == ["README.md", "etcd", "etcdctl"]


async def test_without_dest_the_file_goes_to_the_hosts_cache(ctx: Context, tmp_path: Path) -> None:
    cache = tmp_path / "host" / "cache"
    step = PlaceArtifact("node-tool", remote_dir=str(cache))
    await step.run(ctx)
    assert (cache / "node-tool" / "v1.0.0" / "node-tool-amd64").read_bytes() == TOOL


async def test_a_missing_member_is_a_clear_error(ctx: Context, tmp_path: Path) -> None:
    step = PlaceArtifact(
        "etcd", str(tmp_path / "d"), extract=True, members=("etcd-v3.5.9-linux-amd64/etcdutl",)
    )
    with pytest.raises(DistributionError, match=r"no member 'etcd-v3\.5\.9-linux-amd64/etcdutl'"):
        await step.precheck(ctx)


async def test_an_artifact_not_in_the_store(ctx: Context, tmp_path: Path) -> None:
    with pytest.raises(DistributionError, match="kubelet is not in the store"):
        await PlaceArtifact("kubelet", str(tmp_path / "k")).run(ctx)
    missing = PlaceArtifact("node-tool", str(tmp_path / "k"), version="v9")
    with pytest.raises(DistributionError, match="node-tool v9 is not in the store"):
        await missing.run(ctx)
    # A dry run before the artifacts phase has fetched it: it would be placed, not an error.
    pending = await missing.precheck(ctx)
    assert pending.changed
    assert "not in the store yet" in pending.detail


async def test_a_host_of_another_architecture(tmp_path: Path) -> None:
    _store(tmp_path / "work" / "artifacts")
    _, ctx = await local_context(local_cluster(tmp_path / "work", arch="arm64"))
    with pytest.raises(DistributionError, match=r"is arm64, but the store .* only for amd64"):
        await PlaceArtifact("node-tool", str(tmp_path / "t")).precheck(ctx)


async def test_a_store_file_that_changed_is_refused(ctx: Context, tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "work" / "artifacts")
    (entry,) = [e for e in store.manifest().artifacts if e.component == "node-tool"]
    store.path_of(entry).write_bytes(b"not what was verified")
    with pytest.raises(DistributionError, match="differs from its recorded sha256"):
        await PlaceArtifact("node-tool", str(tmp_path / "t")).run(ctx)
    assert not (tmp_path / "t").exists()


def test_declaration_errors_and_params() -> None:
    with pytest.raises(ValueError, match="needs dest"):
        PlaceArtifact("etcd", extract=True)
    with pytest.raises(ValueError, match="only with extract"):
        PlaceArtifact("etcd", "/usr/local/bin", strip_components=1)
    with pytest.raises(ValueError, match="absolute"):
        PlaceArtifact("etcd", "usr/local/bin")
    step = PlaceArtifact("etcd", "/usr/local/bin/", extract=True, members=("a/etcd",))
    assert step.name == "artifact-etcd"
    assert step.params()["dest"] == "/usr/local/bin"
    assert step.params()["members"] == ["a/etcd"]
    assert step.describe() == "artifact etcd on the host"
    assert step.uploads


def _identity(path: Path) -> list[str]:
    """The identity the probe records: device, inode, size, modification and change times."""
    command = ["stat", "-c", "%d %i %s %y %z", "--", str(path)]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.split()


def _record(dest: Path) -> Path:
    return Path(record_path(str(dest)))


def _recorded(dest: Path) -> list[str] | None:
    record = _record(dest)
    return record.read_text().split() if record.is_file() else None


def _forge(dest: Path, words: list[str]) -> None:
    _record(dest).write_text(" ".join(words) + "\n")


async def test_a_placed_file_is_recorded_with_its_identity(
    ctx: Context, tmp_path: Path, digest_records: Path
) -> None:
    dest = tmp_path / "host" / "bin" / "node-tool"
    step = PlaceArtifact("node-tool", str(dest))
    assert (await step.precheck(ctx)).changed  # nothing placed yet
    await step.run(ctx)
    assert _record(dest).parent == digest_records
    assert _recorded(dest) == [hashlib.sha256(TOOL).hexdigest(), *_identity(dest)]
    assert not (await step.precheck(ctx)).changed


async def test_a_precheck_records_nothing(ctx: Context, tmp_path: Path) -> None:
    dest = tmp_path / "host" / "bin" / "node-tool"
    dest.parent.mkdir(parents=True)
    dest.write_bytes(TOOL)
    dest.chmod(0o755)
    assert not (await PlaceArtifact("node-tool", str(dest)).precheck(ctx)).changed
    assert _recorded(dest) is None  # a dry run leaves no trace on the host
    assert not (await PlaceArtifact("node-tool", str(dest)).run(ctx)).changed
    assert _recorded(dest) == [hashlib.sha256(TOOL).hexdigest(), *_identity(dest)]


async def test_a_rewrite_with_the_same_size_and_mtime_is_still_caught(
    ctx: Context, tmp_path: Path
) -> None:
    dest = tmp_path / "host" / "bin" / "node-tool"
    step = PlaceArtifact("node-tool", str(dest))
    await step.run(ctx)
    assert _recorded(dest) is not None
    before = dest.stat()
    dest.write_bytes(TOOL.replace(b"node", b"evil"))  # the same size
    os.utime(dest, ns=(before.st_atime_ns, before.st_mtime_ns))  # and the same mtime
    assert dest.stat().st_size == before.st_size
    # The change time moved (nobody can set it back), so the record no longer vouches.
    assert (await step.precheck(ctx)).changed
    assert (await step.run(ctx)).changed
    assert dest.read_bytes() == TOOL


async def test_a_matching_record_spares_the_hashing_and_verify_ignores_it(
    ctx: Context, tmp_path: Path
) -> None:
    dest = tmp_path / "host" / "bin" / "node-tool"
    await PlaceArtifact("node-tool", str(dest)).run(ctx)
    # Other bytes behind a record that matches their identity: what only someone able to set
    # the change time back could arrange (the documented limit). The precheck believes the
    # record, which shows it did not hash the file; verify=True hashes and finds them.
    dest.write_bytes(b"other bytes")
    wanted = hashlib.sha256(TOOL).hexdigest()
    _forge(dest, [wanted, *_identity(dest)])
    assert not (await PlaceArtifact("node-tool", str(dest)).precheck(ctx)).changed
    assert (await PlaceArtifact("node-tool", str(dest), verify=True).precheck(ctx)).changed
    # A record of another identity (another file, or this path before a change) is ignored.
    _forge(dest, [wanted, *_identity(dest.parent)])
    assert (await PlaceArtifact("node-tool", str(dest)).precheck(ctx)).changed
