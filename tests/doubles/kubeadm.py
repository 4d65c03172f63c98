#!/usr/bin/python3
"""kubeadm test double (tests only, never shipped): tests/doubles/README.md says what it accepts,
checks and writes. Runs with the hosts' /usr/bin/python3 (stdlib, python3-yaml,
python3-cryptography); tests install it through ``kubeadm_double.launcher``."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    double = importlib.import_module("kubeadm_double.main")
    version = os.environ.get("KUBEXMS_DOUBLE_VERSION", double.DEFAULT_VERSION)
    sys.exit(double.main(sys.argv[1:], version))
