"""Doubles of the Kubernetes binaries, for tests only (tests/doubles/README.md is the contract).

Each double is an executable Python script run by the system interpreter
(:data:`SYSTEM_PYTHON`, standard library only): fleet hosts see this checkout but not the
virtualenv's interpreter. Tests place a double where kubexms expects the real binary through the
artifact store, exactly like the crictl stand-in of ``tests/fixtures/artifacts/runtime_release``:
:func:`build_double` writes one self-contained executable file (a zipapp when the double has
modules of its own) and :func:`artifact_overrides` pins it by sha256 and ``file://`` URL in
``spec.artifacts.overrides``. :func:`real_kubectl` finds the real kubectl of a minor on this
machine, which :func:`kubectl_release` puts into the store the same way.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import zipapp
from pathlib import Path
from typing import Any

from tests.fixtures.artifacts.runtime_release import ReleaseFile

DOUBLES_DIR = Path(__file__).resolve().parent
SYSTEM_PYTHON = Path("/usr/bin/python3")
KUBE_APISERVER = DOUBLES_DIR / "kube_apiserver.py"
KUBECTL_DIR = Path("/usr/lib/google-cloud-sdk/bin")
KUBECTL_MINORS = (31, 32, 33)
DOUBLE_MARK = "(kubexms test double)"
_MINOR = re.compile(r"^v?1\.(\d+)")


def double_script(binary: str) -> Path:
    """The script of the double of ``binary`` (``kube-apiserver`` -> kube_apiserver.py)."""
    return DOUBLES_DIR / f"{binary.replace('-', '_')}.py"


def double_command(binary: str) -> list[str]:
    """The argv prefix that runs a double on this machine or a fleet host."""
    return [str(SYSTEM_PYTHON), str(double_script(binary))]


def _minor(version: str | int) -> int:
    if isinstance(version, int):
        return version
    match = _MINOR.match(version)
    if match is None:
        raise ValueError(f"not a Kubernetes 1.x version: {version!r}")
    return int(match.group(1))


def real_kubectl(version: str | int) -> Path:
    """The real kubectl of the minor of ``version`` (``"1.32"``, ``"v1.33.6"`` or 33), or of the
    nearest minor available (1.31-1.33 here); fails the test naming the path when absent."""
    import pytest  # only the test side needs it (the doubles import this package's modules)

    minor = _minor(version)
    nearest = sorted(KUBECTL_MINORS, key=lambda m: (abs(m - minor), -m))
    for candidate in nearest:
        path = KUBECTL_DIR / f"kubectl.1.{candidate}"
        if path.is_file():
            return path
    wanted = KUBECTL_DIR / f"kubectl.1.{nearest[0]}"
    pytest.fail(f"the real kubectl is missing: {wanted} (this machine image provides it)",
                pytrace=False)  # fmt: skip


def _release(component: str, path: Path, version: str) -> ReleaseFile:
    return ReleaseFile(component, path, version, hashlib.sha256(path.read_bytes()).hexdigest())


def build_double(binary: str, version: str, directory: Path) -> ReleaseFile:
    """``directory/<binary>``: the double as one executable file reporting ``version``, to
    stand in for the release file of ``binary`` (component name = binary name)."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / binary
    package = DOUBLES_DIR / f"{binary.replace('-', '_')}_double"
    if package.is_dir():  # a double with modules: one zipapp holding the package
        staging = directory / f".{binary}-zipapp"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(package, staging / package.name,
                        ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
        (staging / "__main__.py").write_text(
            "import sys\n"
            f"from {package.name}.main import main\n"
            f"sys.exit(main(sys.argv[1:], {version!r}))\n"
        )
        zipapp.create_archive(staging, target, interpreter=str(SYSTEM_PYTHON))
        shutil.rmtree(staging)
    else:
        text = double_script(binary).read_text()
        target.write_text(text.replace("#!/usr/bin/python3", f"#!{SYSTEM_PYTHON}", 1))
    target.chmod(0o755)
    return _release(binary, target, version)


def kubectl_release(version: str, directory: Path) -> ReleaseFile:
    """The real kubectl nearest to ``version``'s minor, copied as the ``kubectl`` release file
    of ``version`` (the BOM's file name)."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / "kubectl"
    shutil.copyfile(real_kubectl(version), target)
    target.chmod(0o755)
    return _release("kubectl", target, version)


def artifact_overrides(*files: ReleaseFile, arch: str = "amd64") -> dict[str, Any]:
    """``spec.artifacts.overrides`` pinning each file (version, name, file:// URL, sha256)."""
    return {
        item.component: {
            "version": item.version,
            "file": item.path.name,
            "url": item.url,
            "sha256": {arch: item.sha256},
        }
        for item in files
    }
