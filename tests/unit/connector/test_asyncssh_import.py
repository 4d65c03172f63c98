"""Importing the connectors does not make asyncssh search for liboqs where it is absent (that
search runs ldconfig, gcc and ld: ~45 ms of every kubexms start)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = """
import ctypes.util, json
asked = []
real = ctypes.util.find_library
def spy(name):
    asked.append(name)
    return real(name)
ctypes.util.find_library = spy
import kubexms.connector
import asyncssh.crypto.pq
print(json.dumps({"asked": asked, "restored": ctypes.util.find_library is spy}))
"""


def test_no_liboqs_search_when_the_linker_cache_has_none() -> None:
    cache = Path("/etc/ld.so.cache")
    if not sys.platform.startswith("linux") or not cache.is_file():
        pytest.skip("needs Linux with a linker cache")
    if b"liboqs" in cache.read_bytes():
        pytest.skip("liboqs is installed here: asyncssh is right to look for it")
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=True
    )
    seen = json.loads(done.stdout.splitlines()[-1])
    assert "oqs" not in seen["asked"]
    assert "liboqs" not in seen["asked"]
    assert seen["restored"]  # find_library is left as it was found
