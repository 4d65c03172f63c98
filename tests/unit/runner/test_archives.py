"""runner.archives: tar and zip extraction, selected members, unchanged on a second run."""

# ruff: noqa: ASYNC240 - tests look at local files directly, blocking is fine here

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path
from typing import Literal

import pytest

from kubexms.runner import Runner
from kubexms.runner._archives import detect_format

FILES = {"pkg/bin/tool": b"#!/bin/sh\necho tool\n", "pkg/README": b"read me\n", "pkg/a b": b"x"}


TarMode = Literal["w", "w:gz", "w:xz"]


def make_tar(path: Path, mode: TarMode) -> None:
    with tarfile.open(path, mode) as archive:
        for name, data in FILES.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755 if "bin" in name else 0o644
            info.uid = 1234  # must not survive extraction: owner is the extracting user
            archive.addfile(info, io.BytesIO(data))


@pytest.mark.parametrize(
    ("suffix", "mode"), [(".tar.gz", "w:gz"), (".tgz", "w:gz"), (".tar.xz", "w:xz"), (".tar", "w")]
)
async def test_tar_extract_then_unchanged(
    runner: Runner, tmp_path: Path, suffix: str, mode: TarMode
) -> None:
    archive = tmp_path / f"a{suffix}"
    make_tar(archive, mode)
    dest = tmp_path / "out"
    first = await runner.archives.extract(str(archive), str(dest))
    assert first.changed
    assert first.detail == "3 file(s) replaced"
    assert (dest / "pkg/bin/tool").read_bytes() == FILES["pkg/bin/tool"]
    assert (dest / "pkg/bin/tool").stat().st_mode & 0o777 == 0o755
    assert (dest / "pkg/a b").stat().st_uid == 0
    assert not (await runner.archives.extract(str(archive), str(dest))).changed
    (dest / "pkg/README").write_text("edited")
    again = await runner.archives.extract(str(archive), str(dest))
    assert again.changed
    assert again.detail == "1 file(s) replaced"
    assert sorted(p.name for p in tmp_path.iterdir()) == [archive.name, "out"]


async def test_selected_members_and_strip_components(runner: Runner, tmp_path: Path) -> None:
    archive = tmp_path / "a.tar.gz"
    make_tar(archive, "w:gz")
    dest = tmp_path / "bin"
    change = await runner.archives.extract(
        str(archive), str(dest), members=["pkg/bin/tool"], strip_components=2, owner="nobody"
    )
    assert change.changed
    assert [p.name for p in dest.iterdir()] == ["tool"]
    assert (dest / "tool").stat().st_uid == 65534
    assert not (
        await runner.archives.extract(
            str(archive), str(dest), members=["pkg/bin/tool"], strip_components=2, owner="nobody"
        )
    ).changed


async def test_zip_extract_with_members(runner: Runner, tmp_path: Path) -> None:
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for name, data in FILES.items():
            handle.writestr(name, data)
        handle.writestr("pkg/star*", b"*")
    dest = tmp_path / "z"
    assert (await runner.archives.extract(str(archive), str(dest), members=["pkg/star*"])).changed
    assert [p.name for p in (dest / "pkg").iterdir()] == ["star*"]
    assert (await runner.archives.extract(str(archive), str(dest))).changed
    assert not (await runner.archives.extract(str(archive), str(dest))).changed
    assert (dest / "pkg/a b").read_bytes() == b"x"


async def test_missing_archive_is_an_error(runner: Runner, tmp_path: Path) -> None:
    from kubexms.connector import CommandFailedError

    with pytest.raises(CommandFailedError, match="does not exist"):
        await runner.archives.extract(str(tmp_path / "nope.tgz"), str(tmp_path / "d"))


def test_format_from_name() -> None:
    assert detect_format("/x/k.TGZ") == "tar.gz"
    assert detect_format("/x/k.tar.xz") == "tar.xz"
    with pytest.raises(ValueError, match="format"):
        detect_format("/x/k.bin")
