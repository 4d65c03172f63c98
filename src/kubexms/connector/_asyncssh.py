"""asyncssh, imported without its search for liboqs running a C compiler.

At import asyncssh looks for liboqs (the Streamlined NTRU Prime key exchange) with
``ctypes.util.find_library``, which on Linux runs ``ldconfig -p`` and, when that finds nothing,
``gcc`` and ``ld``: about 45 ms of child processes at every kubexms start on a host without
liboqs, the common case. So the linker's cache (and ``LD_LIBRARY_PATH``) is read here first; only
when liboqs may be there is ``find_library`` asked. A liboqs reachable only some other way goes
unused; asyncssh then offers its other key exchanges (ML-KEM through cryptography among them).

Imported first by ``kubexms.connector``, before any module of it imports asyncssh.
"""

from __future__ import annotations

import ctypes.util
import glob
import os
import sys

_LIBRARIES = ("oqs", "liboqs")


def _liboqs_may_exist() -> bool:
    try:
        with open("/etc/ld.so.cache", "rb") as cache:
            if b"liboqs" in cache.read():
                return True
    except OSError:
        return True  # cannot tell: let asyncssh look the usual way
    paths = os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep)
    return any(glob.glob(os.path.join(path, "liboqs.so*")) for path in paths if path)


def import_asyncssh() -> None:
    """Import asyncssh (once), skipping the liboqs search where liboqs is surely absent."""
    if "asyncssh" in sys.modules or not sys.platform.startswith("linux"):
        return
    if _liboqs_may_exist():
        import asyncssh

        return
    find_library = ctypes.util.find_library

    def without_liboqs(name: str) -> str | None:
        return None if name in _LIBRARIES else find_library(name)

    ctypes.util.find_library = without_liboqs
    try:
        import asyncssh  # noqa: F401
    finally:
        ctypes.util.find_library = find_library


import_asyncssh()
