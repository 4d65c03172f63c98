#!/usr/bin/python3
"""kubelet test double (tests only, never shipped), one for both modes: kubelet_double/main.py
says what it accepts, checks and does. Runs with the hosts' /usr/bin/python3; tests install it
with ``kubelet_double.build(version, directory)``. From the checkout:
`KUBEXMS_DOUBLE_VERSION=v1.32.0 /usr/bin/python3 tests/doubles/kubelet.py --version`."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    sys.path.insert(0, str(here))
    double = importlib.import_module("kubelet_double.main")
    version = os.environ.get("KUBEXMS_DOUBLE_VERSION", double.DEFAULT_VERSION)
    sys.exit(double.main(sys.argv[1:], version, str(here)))
