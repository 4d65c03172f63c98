"""Downloaded packages serve each host only what it lacks: the download records every
package's dependency groups, and a host where one alternative of a group is installed gets
none of the others (``usrmerge | usr-is-merged``: usrmerge refuses a /usr of its own)."""

from __future__ import annotations

import json
from pathlib import Path

from kubexms.hostprep import DownloadPackages, InstallPackages, PackageSource
from kubexms.hostprep._package_source import dependency_groups, needed_packages
from kubexms.runtime import Context
from tests.unit.hostprep.scripted import Script, scripted_context
from tests.unit.hostprep.test_packages import HERE, deb, here

__all__ = ["here"]  # the fixture, used by name

# apt-cache depends (abridged) of Debian 12's init-system-helpers and haproxy.
APT_CACHE = (
    "init-system-helpers\n"
    " |Depends: usrmerge\n"
    "  Depends: usr-is-merged\n"
    "    usrmerge\n"
    "haproxy\n"
    "  PreDepends: dpkg\n"
    "  Depends: libsystemd0\n"
    "    libelogind0\n"
    "  Depends: <debconf-2.0>\n"
    "    debconf\n"
    "    cdebconf\n"
    "  Depends: init-system-helpers\n"
)
GROUPS = dependency_groups(APT_CACHE)


def test_dependency_groups_keep_every_alternative_and_provider() -> None:
    assert GROUPS == {
        "init-system-helpers": [["usrmerge", "usr-is-merged", "usrmerge"]],
        "haproxy": [
            ["dpkg"],
            ["libsystemd0", "libelogind0"],
            ["debconf", "cdebconf"],
            ["init-system-helpers"],
        ],
    }


def test_a_host_gets_only_what_it_lacks() -> None:
    available = ["haproxy", "init-system-helpers", "usrmerge", "debconf", "libsystemd0"]
    base = {"dpkg": True, "libsystemd0": True, "debconf": True}
    # init-system-helpers there: nothing below it is looked at.
    there = base | {"init-system-helpers": True}
    assert needed_packages(["haproxy"], GROUPS, there, available) == ["haproxy"]
    # usr-is-merged there satisfies init-system-helpers' dependency: no usrmerge.
    merged = base | {"usr-is-merged": True}
    assert needed_packages(["haproxy"], GROUPS, merged, available) == [
        "haproxy",
        "init-system-helpers",
    ]
    # Neither: the first alternative, as apt would choose.
    assert needed_packages(["haproxy"], GROUPS, base, available) == [
        "haproxy",
        "init-system-helpers",
        "usrmerge",
    ]
    assert needed_packages(["haproxy"], GROUPS, base | {"haproxy": True}, available) == []


async def test_offline_install_from_a_download_skips_what_this_host_has(
    here: Context, tmp_path: Path
) -> None:
    # This machine's real dpkg answers: usr-is-merged is installed here, usrmerge is not.
    facts = await here.runner.facts()
    platform = {"os_id": facts.os_id, "os_version": facts.os_version, "arch": facts.arch}
    (tmp_path / "PLATFORM.json").write_text(json.dumps(platform))
    for name in ("dpkg", "kxms-test-tool", "kxms-test-lib", "usrmerge"):
        deb(tmp_path, name, arch=facts.arch)
    step = InstallPackages(HERE, PackageSource.offline(tmp_path, download=True))
    # Without the recorded groups (a directory filled by hand): every .deb the host lacks.
    assert (await step.precheck(here)).detail == "kxms-test-lib kxms-test-tool usrmerge"
    record = {
        "packages": sorted(HERE["apt"]),
        "closure": ["dpkg", "kxms-test-tool", "kxms-test-lib", "usrmerge"],
        "depends": {"kxms-test-tool": [["kxms-test-lib"], ["usrmerge", "usr-is-merged"]]},
    }
    (tmp_path / "CLOSURE.json").write_text(json.dumps(record))
    assert (await step.precheck(here)).detail == "kxms-test-lib kxms-test-tool"


async def test_the_download_records_the_groups(tmp_path: Path) -> None:
    directory = tmp_path / "debs"
    script = Script().on("command -v apt-get", "")
    init_system_helpers, haproxy = APT_CACHE.split("haproxy\n")
    levels = {  # one level per call, as apt-cache depends without --recurse answers
        "haproxy": "haproxy\n" + haproxy,
        "dpkg libsystemd0 debconf init-system-helpers": "dpkg\nlibsystemd0\ndebconf\n"
        + init_system_helpers,
        "usrmerge": "usrmerge\n",
    }

    def depends(command: str, stdin: bytes) -> str:
        return levels[" ".join(word.strip("'") for word in command.split()[8:])]

    def download(command: str, stdin: bytes) -> str:
        for name in command.split()[2:]:
            deb(directory, name)
        return ""

    written: list[bytes] = []

    def sync(command: str, stdin: bytes) -> str:
        written.append(stdin)
        return "@kxms:wrote 0\n@kxms:wrote 1\n"

    script.on("apt-cache depends", depends).on("apt-get download", download)
    script.on("kx_sync", sync).on("mkdir", "@kxms:done created\n")  # the sync makes dirs too
    _, ctx = await scripted_context(script)
    directory.mkdir()
    await DownloadPackages(["haproxy"], directory).run(ctx)
    (download_command,) = script.ran("apt-get download")
    assert download_command.split()[2:] == [
        "haproxy", "dpkg", "libsystemd0", "debconf", "init-system-helpers", "usrmerge",
    ]  # fmt: skip
    (archive,) = written
    assert b'"depends": {"haproxy": [["dpkg"], ["libsystemd0", "libelogind0"]' in archive
    assert b'"init-system-helpers": [["usrmerge", "usr-is-merged", "usrmerge"]]' in archive
