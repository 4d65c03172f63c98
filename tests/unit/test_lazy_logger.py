"""Loggers bound to a context do not load structlog until a message is really written."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
import json, logging, sys
from kubexms._log import defer_configuration, get_logger

configured = []
defer_configuration(logging.WARNING, lambda: configured.append(True))
logger = get_logger("kubexms.test").bind(host="node1").bind(step="s")
logger.debug("dropped below the level")
before = "structlog" in sys.modules
logger.warning("written", extra_key=1)
print(json.dumps({"before": before, "after": "structlog" in sys.modules,
                  "configured": configured}))
"""


def test_bind_defers_structlog_and_keeps_the_bound_values() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=True
    )
    seen = json.loads(done.stdout.splitlines()[-1])
    assert seen == {"before": False, "after": True, "configured": [True]}
    # structlog's default renderer writes the message with the values bound before loading.
    assert "written" in done.stdout
    assert "host" in done.stdout
    assert "node1" in done.stdout
    assert "step" in done.stdout
