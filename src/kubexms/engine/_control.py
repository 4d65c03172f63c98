"""The control machine as a host, for steps that work locally (downloads, certificates)."""

from __future__ import annotations

from kubexms.engine._inventory import CONTROL_HOST
from kubexms.runtime import ClusterRuntime, Host


def control_host(runtime: ClusterRuntime) -> Host:
    """The runtime's Host for this machine, named ``CONTROL_HOST``: its connector is local and
    owned (and closed) by the runtime, its Runner never elevates."""
    return runtime.control_host(CONTROL_HOST)
