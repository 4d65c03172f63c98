"""Shared helpers of the Runner's fleet tests (this module holds no tests).

``host_runner`` opens a runtime on ONE fleet host, logged in as root, ``ops`` (passwordless
sudo) or ``deployer`` (sudo with a password), so every operation can be proven the same way
for each. Tests pick hosts from the end of the shared fleet and use paths unique to them.
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import yaml

from kubexms.config import load_config
from kubexms.runner import Runner
from kubexms.runtime import new_runtime
from kubexms.sandbox import Fleet

USERS = ["root", "ops", "deployer"]


def unique(prefix: str = "kxms-runner-test") -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def single_host_cluster(fleet: Fleet, index: int, user: str, directory: Path) -> Path:
    """A cluster file for fleet host ``index`` alone, logging in as ``user``."""
    document: dict[str, Any] = yaml.safe_load(fleet.cluster_file.read_text())
    host = dict(document["spec"]["hosts"][index])
    host["user"] = user
    if user == "deployer":
        host["sudoPassword"] = fleet.password("deployer")
    document["spec"]["hosts"] = [host]
    document["spec"]["roleGroups"] = {"master": [host["name"]], "etcd": [host["name"]]}
    document["spec"].setdefault("global", {})["user"] = user
    path = directory / f"cluster-{host['name']}-{user}.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


@asynccontextmanager
async def host_runner(fleet: Fleet, index: int = -1, user: str = "root") -> AsyncIterator[Runner]:
    """The Runner of fleet host ``index`` as ``user``; the connection closes on exit."""
    with tempfile.TemporaryDirectory(prefix="kxms-runner-") as directory:
        cluster = load_config(single_host_cluster(fleet, index, user, Path(directory)))
        async with await new_runtime(cluster) as runtime:
            yield runtime.hosts[0].runner


async def on_host(fleet: Fleet, index: int, command: str) -> str:
    """Run ``command`` as root inside the host (not over SSH); its stdout, or fail loudly."""
    code, out, err = await fleet.host_exec(fleet.hosts[index].name, command)
    assert code == 0, f"{command!r} exited {code}: {err}"
    return out
