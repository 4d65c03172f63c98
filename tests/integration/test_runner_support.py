"""Shared helpers of the Runner's fleet tests (this module holds no tests).

``host_runner`` opens a runtime on ONE fleet host, logged in as root, ``ops`` (passwordless
sudo) or ``deployer`` (sudo with a password), so every operation can be proven the same way
for each. Tests lease their host (the ``lease`` fixture, tests/leasing.py) and use paths unique
to them.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from kubexms.runner import Runner
from tests.leasing import HostLease

USERS = ["root", "ops", "deployer"]


def unique(prefix: str = "kxms-runner-test") -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


@asynccontextmanager
async def host_runner(hosts: HostLease, user: str = "root") -> AsyncIterator[Runner]:
    """The Runner of the first leased host as ``user``; the connection closes on exit."""
    async with hosts.runner(hosts[0], user) as runner:
        yield runner


async def on_host(hosts: HostLease, command: str) -> str:
    """Run ``command`` as root inside the first leased host (not over SSH); its stdout."""
    return await hosts.run(hosts[0], command)
