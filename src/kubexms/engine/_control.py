"""The control machine as a host, for steps that work locally (downloads, certificates)."""

from __future__ import annotations

import getpass

from kubexms.connector import LocalConnector
from kubexms.engine._inventory import CONTROL_HOST
from kubexms.runner import Runner
from kubexms.runtime import Host


def control_host() -> Host:
    """A Host for this machine, run as the invoking user (its Runner never elevates)."""
    return Host(
        name=CONTROL_HOST,
        address="127.0.0.1",
        internal_address="127.0.0.1",
        port=0,
        user=getpass.getuser(),
        roles=frozenset(),
        runner=Runner(LocalConnector(CONTROL_HOST), sudo=False),
    )
