#!/usr/bin/python3
"""kube-apiserver test double (tests only, never shipped): tests/doubles/README.md says what it
accepts, checks and serves. It runs under the system interpreter with the standard library
only, because fleet hosts cannot see this checkout's virtualenv interpreter (it lives under the
machine's /root); its modules are the ``kube_apiserver_double`` package beside this file."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    entry = importlib.import_module("kube_apiserver_double.main")
    version = os.environ.get("KUBEXMS_DOUBLE_VERSION", entry.DEFAULT_VERSION)
    sys.exit(entry.main(sys.argv[1:], version))
