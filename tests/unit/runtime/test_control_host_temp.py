"""The control machine's staging directory goes with the runtime (real local files).

Before, the control host's Runner staged writes under /var/tmp/kubexms/run-<random>, which only
a target host's lock release removes; this machine has no lock, so every run that wrote a file
locally (downloads, certificates) left an empty directory there, and the fleet's hosts, whose
/var lies over this machine's, saw it as a run directory of unknown origin.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from kubexms.testing import cluster_of, memory_runtime


def listing(path: Path) -> list[str]:
    return sorted(entry.name for entry in path.iterdir())


def exists(path: str) -> bool:
    return Path(path).exists()


async def test_the_control_hosts_staging_directory_is_removed_at_close(tmp_path: Path) -> None:
    runtime = await memory_runtime(cluster_of(1), lambda host, command, stdin: "")
    control = runtime.control_host("control")
    staging = control.runner.temp_dir
    assert staging.startswith(f"{tempfile.gettempdir()}/kubexms-control-")
    assert not staging.startswith("/var/tmp/kubexms")
    target = tmp_path / "written.txt"
    assert (await control.runner.files.write(str(target), "hello\n")).changed
    assert target.read_text() == "hello\n"
    assert exists(staging)  # the write staged its file there
    await runtime.close()
    assert not exists(staging)
    assert listing(tmp_path) == ["written.txt"]
