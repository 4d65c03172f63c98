"""The kubeadm and kubelet test doubles' modules (tests only, never shipped). They run on fleet
hosts under ``/usr/bin/python3`` with the standard library and Debian's python3-yaml and
python3-cryptography (the hosts see the machine's ``/usr``, not this checkout's virtualenv).
``tests/doubles/kubeadm.py`` and ``tests/doubles/kubelet.py`` are their entry points."""

from __future__ import annotations

import hashlib
import shutil
import zipapp
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.fixtures.artifacts.runtime_release import ReleaseFile

DOUBLES = Path(__file__).resolve().parent.parent
_ENTRIES = {
    "kubeadm": "from kubeadm_double.main import main\nsys.exit(main(sys.argv[1:], {version!r}))\n",
    "kubelet": (
        "from kubeadm_double.kubelet import main\nsys.exit(main(sys.argv[1:], {version!r}))\n"
    ),
}


def build(binary: str, version: str, directory: Path) -> ReleaseFile:
    """``directory/<binary>`` (``kubeadm`` or ``kubelet``): the double as one executable zipapp
    for the hosts' ``/usr/bin/python3``, reporting ``version``, to stand in for the release file
    (the kubelet's carries the API-server double its static pods run)."""
    from tests.doubles.doubles_core.bundle import add_core
    from tests.fixtures.artifacts.runtime_release import ReleaseFile

    directory.mkdir(parents=True, exist_ok=True)
    staging = directory / f".{binary}-zipapp"
    shutil.rmtree(staging, ignore_errors=True)
    package = Path(__file__).resolve().parent
    shutil.copytree(package, staging / package.name, ignore=shutil.ignore_patterns("__pycache__"))
    add_core(staging)
    if binary == "kubelet":
        # Its static pods' "images": the API-server double travels inside the kubelet double
        # (fleet hosts do not see this checkout), unpacked on the host when the kubelet starts.
        apiserver = DOUBLES / "kube_apiserver_double"
        shutil.copytree(apiserver, staging / apiserver.name,
                        ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
        shutil.copy(DOUBLES / "kube_apiserver.py", staging / "kube_apiserver.py")
    entry = _ENTRIES[binary].format(version=version)
    (staging / "__main__.py").write_text(f"import sys\n{entry}")
    target = directory / binary
    zipapp.create_archive(staging, target, interpreter="/usr/bin/python3")
    shutil.rmtree(staging)
    target.chmod(0o755)
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    return ReleaseFile(binary, target, version, digest)
