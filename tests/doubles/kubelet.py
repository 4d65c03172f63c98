#!/usr/bin/python3
"""kubelet test double (tests only, never shipped): tests/doubles/kubeadm_double/README.md says
what it accepts, checks and does. Runs with the hosts' /usr/bin/python3; tests install it with
``kubeadm_double.build("kubelet", version, directory)``."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    sys.path.insert(0, str(here))
    double = importlib.import_module("kubeadm_double.kubelet")
    version = os.environ.get("KUBEXMS_DOUBLE_VERSION", double.DEFAULT_VERSION)
    sys.exit(double.main(sys.argv[1:], version, str(here)))
