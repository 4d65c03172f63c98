"""`kubexms facts` with no cluster file: this machine, through the local connector."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys


def test_facts_without_a_file_describe_this_machine() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "kubexms", "facts", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    facts = json.loads(done.stdout)
    assert list(facts) == ["localhost"]
    local = facts["localhost"]
    assert local["hostname"] == platform.node()
    assert local["kernel"] == platform.release()
    assert local["cpus"] == os.cpu_count()
