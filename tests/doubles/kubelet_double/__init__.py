"""The kubelet double (tests only, never shipped): ONE double for both of kubexms's modes.

kubeadm mode runs it through kubeadm's drop-in (``--bootstrap-kubeconfig``, ``--kubeconfig``,
``--config`` of kubeadm's KubeletConfiguration, ``kubeadm-flags.env``) with static pods; binary
mode through its own unit (``--config`` with its serving pair, ``--kubeconfig`` with the node's
certificate, ``--hostname-override``, ``--node-ip``). The same code serves both, as one real
kubelet binary does: ``main`` says what it checks and does. It runs on fleet hosts under
``/usr/bin/python3`` with the standard library and Debian's python3-yaml and
python3-cryptography; ``tests/doubles/kubelet.py`` is its script, :func:`build` its release file.
"""

from __future__ import annotations

import hashlib
import shutil
import zipapp
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.fixtures.artifacts.runtime_release import ReleaseFile

DOUBLES = Path(__file__).resolve().parent.parent


def build(version: str, directory: Path) -> ReleaseFile:
    """``directory/kubelet``: the kubelet double as one executable zipapp for the hosts'
    ``/usr/bin/python3``, reporting ``version``. It carries the shared core (with the flag lists
    and schemas) and what its static pods run: the API-server double and kubeadm's
    controller-manager and scheduler stand-ins (fleet hosts do not see this checkout's
    virtualenv), unpacked on the host when a static pod needs them."""
    from tests.doubles.doubles_core.bundle import add_core
    from tests.fixtures.artifacts.runtime_release import ReleaseFile

    directory.mkdir(parents=True, exist_ok=True)
    staging = directory / ".kubelet-zipapp"
    shutil.rmtree(staging, ignore_errors=True)
    ignore = shutil.ignore_patterns("__pycache__")
    for package in ("kubelet_double", "kubeadm_double", "kube_apiserver_double"):
        shutil.copytree(DOUBLES / package, staging / package, ignore=ignore)
    shutil.copy(DOUBLES / "kube_apiserver.py", staging / "kube_apiserver.py")
    add_core(staging)
    entry = f"from kubelet_double.main import main\nsys.exit(main(sys.argv[1:], {version!r}))\n"
    (staging / "__main__.py").write_text(f"import sys\n{entry}")
    target = directory / "kubelet"
    zipapp.create_archive(staging, target, interpreter="/usr/bin/python3")
    shutil.rmtree(staging)
    target.chmod(0o755)
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    return ReleaseFile("kubelet", target, version, digest)
