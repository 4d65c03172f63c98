"""The release file of a control-plane double (tests only; runs on the test side).

One zipapp for ``/usr/bin/python3`` holding this package, the shared doubles core with the flag
lists and the config schemas it reads, and the version it plays, so it runs on a fleet host
from wherever kubexms places it.
"""

from __future__ import annotations

import shutil
import zipapp
from pathlib import Path

from tests.doubles import SYSTEM_PYTHON, artifact_overrides
from tests.doubles.control_plane.main import DOUBLES
from tests.doubles.doubles_core.bundle import add_core
from tests.doubles.kubelet_double import build as build_kubelet
from tests.fixtures.artifacts.runtime_release import ReleaseFile

PACKAGE = Path(__file__).resolve().parent

__all__ = ["artifact_overrides", "build_control_plane_double"]


def build_control_plane_double(binary: str, version: str, directory: Path) -> ReleaseFile:
    """``directory/<binary>``: the double of ``binary`` playing ``version``, as one executable.
    The kubelet is the one kubelet double of both modes (``kubelet_double.build``)."""
    import hashlib

    if binary == "kubelet":
        return build_kubelet(version, directory)
    if binary not in DOUBLES:
        raise ValueError(f"no control-plane double of {binary!r}")
    directory.mkdir(parents=True, exist_ok=True)
    staging = directory / f".{binary}-zipapp"
    shutil.rmtree(staging, ignore_errors=True)
    package = staging / "control_plane"
    shutil.copytree(PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__", "build.py"))
    add_core(staging)
    (staging / "__main__.py").write_text(
        "import sys\n"
        "from control_plane.main import main\n"
        f"sys.exit(main({binary!r}, sys.argv[1:], {version!r}))\n"
    )
    target = directory / binary
    zipapp.create_archive(staging, target, interpreter=str(SYSTEM_PYTHON))
    shutil.rmtree(staging)
    target.chmod(0o755)
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    return ReleaseFile(binary, target, version, digest)
