"""The kubeadm test double's modules (tests only, never shipped), and the controller-manager and
scheduler stand-ins kubeadm mode's static pods run. They run on fleet hosts under
``/usr/bin/python3`` with the standard library and Debian's python3-yaml and
python3-cryptography (the hosts see the machine's ``/usr``, not this checkout's virtualenv).
``tests/doubles/kubeadm.py`` is the entry point; the kubelet double is ``kubelet_double``."""

from __future__ import annotations

import hashlib
import shutil
import zipapp
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.fixtures.artifacts.runtime_release import ReleaseFile

DOUBLES = Path(__file__).resolve().parent.parent
_ENTRY = "from kubeadm_double.main import main\nsys.exit(main(sys.argv[1:], {version!r}))\n"


def build(binary: str, version: str, directory: Path) -> ReleaseFile:
    """``directory/<binary>`` (``kubeadm`` or ``kubelet``): the double as one executable zipapp
    for the hosts' ``/usr/bin/python3``, reporting ``version``, to stand in for the release file
    (the kubelet is the one kubelet double of both modes, ``kubelet_double.build``)."""
    from tests.doubles.doubles_core.bundle import add_core
    from tests.doubles.kubelet_double import build as build_kubelet
    from tests.fixtures.artifacts.runtime_release import ReleaseFile

    if binary == "kubelet":
        return build_kubelet(version, directory)
    if binary != "kubeadm":
        raise ValueError(f"no kubeadm double of {binary!r}")

    directory.mkdir(parents=True, exist_ok=True)
    staging = directory / f".{binary}-zipapp"
    shutil.rmtree(staging, ignore_errors=True)
    package = Path(__file__).resolve().parent
    shutil.copytree(package, staging / package.name, ignore=shutil.ignore_patterns("__pycache__"))
    add_core(staging)
    entry = _ENTRY.format(version=version)
    (staging / "__main__.py").write_text(f"import sys\n{entry}")
    target = directory / binary
    zipapp.create_archive(staging, target, interpreter="/usr/bin/python3")
    shutil.rmtree(staging)
    target.chmod(0o755)
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    return ReleaseFile(binary, target, version, digest)
