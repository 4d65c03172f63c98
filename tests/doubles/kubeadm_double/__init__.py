"""The kubeadm and kubelet test doubles' modules (tests only, never shipped). They run on fleet
hosts under ``/usr/bin/python3`` with the standard library and Debian's python3-yaml and
python3-cryptography (the hosts see the machine's ``/usr``, not this checkout's virtualenv).
``tests/doubles/kubeadm.py`` and ``tests/doubles/kubelet.py`` are their entry points."""

from __future__ import annotations

from pathlib import Path

DOUBLES = Path(__file__).resolve().parent.parent


def launcher(module: str, version: str) -> bytes:
    """The executable tests put in the artifact store in place of a release binary: it runs
    ``<module>.main(argv, version)`` from this checkout (``kubeadm_double.main``) with the
    hosts' ``/usr/bin/python3``; its bytes (so its pinned sha256) depend on the version."""
    return (
        "#!/usr/bin/python3\n"
        f"# {module.split('.')[0]} {version}: a kubexms test double, never a release binary\n"
        "import sys\n"
        f"sys.path.insert(0, {str(DOUBLES)!r})\n"
        f"from {module} import main\n"
        f"sys.exit(main(sys.argv[1:], {version!r}))\n"
    ).encode()
