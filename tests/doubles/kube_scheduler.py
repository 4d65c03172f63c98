#!/usr/bin/python3
"""Double of kube-scheduler (tests only; standard library and python3-yaml, /usr/bin/python3).

What it checks and serves: control_plane/common.py. Run from the checkout:
`KUBEXMS_DOUBLE_VERSION=v1.31.4 /usr/bin/python3 tests/doubles/kube_scheduler.py --flags`;
tests put it in the artifact store with `control_plane.build.build_control_plane_double`.
"""

from __future__ import annotations

import importlib
import os
import sys

if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main = importlib.import_module("control_plane.main").main
    sys.exit(main("kube-scheduler", sys.argv[1:], os.environ.get("KUBEXMS_DOUBLE_VERSION", "")))
